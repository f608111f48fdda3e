"""`python -m tools.router_doc [--check]` — the API-key privilege list in docs/router.md, from
the router driver's own endpoint tables (`components.network.kinds.api_privileges`).

The list sits between two marker comments; `--check` exits 1 when it differs from what the
driver calls (tests use it), so a new endpoint cannot ship without its privilege in the docs.
"""

from __future__ import annotations

import argparse
import sys

from components.network.kinds import api_privileges, privilege_name
from tools.paths import ROOT

DOC = ROOT / "docs" / "router.md"
BEGIN = "<!-- api-privileges:begin (python -m tools.router_doc) -->"
END = "<!-- api-privileges:end -->"


def privilege_block() -> str:
    lines = [BEGIN, "", "| endpoint | methods | pfrest privileges |", "| --- | --- | --- |"]
    for path, methods in api_privileges():
        names = ", ".join(f"`{privilege_name(path, m)}`" for m in methods)
        lines.append(f"| `{path}` | {' '.join(methods)} | {names} |")
    return "\n".join([*lines, "", END])


def render(text: str) -> str:
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOC}: the markers {BEGIN!r} and {END!r} are missing")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + privilege_block() + tail


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.router_doc")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/router.md is out of date")
    args = parser.parse_args(argv)
    text = DOC.read_text()
    new = render(text)
    if args.check:
        if new != text:
            print(f"{DOC} is out of date: run python -m tools.router_doc", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
