"""Input grammars as patterns the *whole* text must match, in ASCII.

    from components.grammar import Grammar
    _LABEL = Grammar(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
    if not _LABEL.match(value): ...

Creates nothing. Two traps of Python's `re` are closed here once, for every grammar of the
config and every guard on text that reaches a host or a router:
- `re.match(r"^...$")` accepts a final line break (`$` also matches just before a trailing
  `\\n`), so `cp1\\n` passed as a node name and split the node scripts; `fullmatch` does not;
- `\\d`, `\\w` and `\\s` match every Unicode digit, letter and space (`v1.٣٤.2+k3s1`),
  which k3s, Kubernetes and pfSense read differently or refuse; the patterns are ASCII-only.
"""

from __future__ import annotations

import re


class Grammar:
    """A compiled pattern matched against the whole text (no `^`/`$` needed in it)."""

    __slots__ = ("regex",)

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.regex = re.compile(pattern, flags | re.ASCII)

    def match(self, text: object) -> re.Match[str] | None:
        """The match of all of `text`, or None (also for anything that is not a str)."""
        return self.regex.fullmatch(text) if isinstance(text, str) else None

    def __repr__(self) -> str:
        return f"Grammar({self.regex.pattern!r})"


# ASCII digits only: str.isdigit() also accepts '²' and '٣', and int() reads the latter.
DIGITS = Grammar(r"[0-9]+")
