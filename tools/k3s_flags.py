"""Regenerate `components/config/k3s_flags.json`: the config keys k3s's `server` and `agent`
accept, read from k3s's own CLI definitions.

    venv/bin/python -m tools.k3s_flags <dir with k3s's pkg/cli/cmds/*.go> <k3s version> <source note>

k3s reads `config.yaml` as command-line flags (pkg/configfilearg): every key is a flag name
without its dashes. The flags are urfave/cli literals in pkg/cli/cmds/ (server.go: the
`ServerFlags` list; agent.go: the `Flags` of `NewAgentCommand`; shared ones are named
variables in agent.go, log.go, config.go and root.go). This reads those literals — name,
kind, aliases, hidden — and the two lists, and writes them as data. Run it on the sources of
the k3s release that `cluster.k3sVersion`'s pin names when the pin moves a minor.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from tools.paths import ROOT

OUT = ROOT / "components" / "config" / "k3s_flags.json"
_LITERAL = re.compile(r"(?:(\w+)\s*=\s*)?&?cli\.(\w+)Flag\{")
_KINDS = {"String": "string", "StringSlice": "list", "Bool": "bool", "Int": "int", "Duration": "duration"}


def _block(text: str, start: int) -> tuple[str, int]:
    """The text between the brace at `start` and its matching close, and the end index."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
    raise ValueError("unbalanced braces")


def _flag(kind: str, body: str) -> dict:
    name = re.search(r'\bName:\s*"([^"]+)"', body)
    if not name:
        raise ValueError(f"a {kind}Flag without a literal Name: {body[:80]!r}")
    aliases = re.search(r"\bAliases:\s*\[\]string\{([^}]*)\}", body)
    return {
        "name": name.group(1),
        "kind": _KINDS[kind],
        "aliases": re.findall(r'"([^"]+)"', aliases.group(1)) if aliases else [],
        "hidden": bool(re.search(r"\bHidden:\s*true", body)),
    }


def named_flags(sources: list[str]) -> dict[str, dict]:
    """Every `Var = &cli.XFlag{...}` of the sources, by variable name."""
    out = {}
    for text in sources:
        for match in _LITERAL.finditer(text):
            if match.group(1):
                body, _ = _block(text, match.end() - 1)
                out[match.group(1)] = _flag(match.group(2), body)
    return out


def flag_list(text: str, opening: str, named: dict[str, dict]) -> list[dict]:
    """The flags of the `[]cli.Flag{...}` list that follows `opening`."""
    at = text.index(opening)
    body, _ = _block(text, text.index("{", at + len(opening) - 1))
    flags, i = [], 0
    while i < len(body):
        literal = _LITERAL.match(body, i)
        ident = re.match(r"\s*(\w+)\s*,", body[i:])
        if literal and not literal.group(1):
            inner, end = _block(body, literal.end() - 1)
            flags.append(_flag(literal.group(2), inner))
            i = end
        elif ident and ident.group(1) in named:
            flags.append(named[ident.group(1)])
            i += ident.end()
        else:
            i += 1
    return flags


def table(src: Path) -> dict[str, list[dict]]:
    texts = {p.stem: p.read_text(encoding="utf-8") for p in sorted(src.glob("*.go"))}
    named = named_flags(list(texts.values()))
    server = flag_list(texts["server"], "var ServerFlags = []cli.Flag{", named)
    agent = flag_list(texts["agent"], "Flags: []cli.Flag{", named)
    return {"server": server, "agent": agent}


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    src, version, note = Path(argv[0]), argv[1], argv[2]
    flags = table(src)
    doc = {
        "k3sVersion": version,
        "source": note,
        "generatedBy": "python -m tools.k3s_flags",
        **{role: {f["name"]: {"kind": f["kind"], "aliases": f["aliases"], "hidden": f["hidden"]}
                  for f in sorted(items, key=lambda f: f["name"])}
           for role, items in flags.items()},
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(doc['server'])} server and {len(doc['agent'])} agent flags of k3s {version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
