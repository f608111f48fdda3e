"""Invalid config fixtures as one base plus a patch each.

`tests/config/fixture-base.yaml` is a full, valid prod-like stack file. Each
`tests/config/invalid/<mistake>.yaml` holds two comment lines and a patch:

    # mistake: what is wrong, in words
    # expect: the exact message the config check must report
    patch:
    - replace: /k3s-platform:cluster/agents/0/ip
      value: 10.1.1.1

Operations (paths are JSON pointers into the `config:` mapping; `~1` is `/`, `~0` is `~`):
- `replace: PATH` + `value`: PATH must exist;
- `add: PATH` + `value`: a new mapping key, or a list index up to the list's length (insert);
- `remove: PATH`: PATH must exist.
A patch that no longer applies to the base (a path gone, a key already there) raises
`PatchError` naming the fixture and the operation, so a change to the base cannot quietly
turn a fixture into a different mistake, or into none.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
BASE = HERE / "fixture-base.yaml"
INVALID_DIR = HERE / "invalid"
INVALID = sorted(INVALID_DIR.glob("*.yaml"))
OPS = ("replace", "add", "remove")


class PatchError(ValueError):
    pass


def _tokens(pointer: str) -> list[str]:
    if not pointer.startswith("/"):
        raise PatchError(f"{pointer!r} is not a JSON pointer (it must start with '/')")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(token: str, size: int, pointer: str) -> int:
    if not token.isdigit() or int(token) >= size:
        raise PatchError(f"{pointer}: list index {token!r} is not in 0..{size - 1}")
    return int(token)


def _parent(doc: Any, tokens: list[str], pointer: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f"{pointer}: {token!r} does not exist in the base")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(token, len(node), pointer)]
        else:
            raise PatchError(f"{pointer}: {token!r} is below a scalar")
    return node


def apply_op(doc: Any, op: dict[str, Any]) -> None:
    """Apply one operation to `doc` in place."""
    names = [name for name in OPS if name in op]
    extra = set(op) - set(OPS) - {"value"}
    if len(names) != 1 or extra:
        raise PatchError(f"{op!r}: one of {', '.join(OPS)} (with `value` unless remove), nothing else")
    name = names[0]
    pointer = op[name]
    if (name == "remove") == ("value" in op):
        raise PatchError(f"{name} {pointer}: `value` is {'not allowed' if name == 'remove' else 'required'}")
    tokens = _tokens(pointer)
    parent, last = _parent(doc, tokens, pointer), tokens[-1]
    if isinstance(parent, dict):
        if name == "add" and last in parent:
            raise PatchError(f"add {pointer}: the key already exists (use replace)")
        if name != "add" and last not in parent:
            raise PatchError(f"{name} {pointer}: no such key in the base")
        if name == "remove":
            del parent[last]
        else:
            parent[last] = copy.deepcopy(op["value"])
    elif isinstance(parent, list):
        if name == "add":
            parent.insert(_index(last, len(parent) + 1, pointer), copy.deepcopy(op["value"]))
        elif name == "remove":
            del parent[_index(last, len(parent), pointer)]
        else:
            parent[_index(last, len(parent), pointer)] = copy.deepcopy(op["value"])
    else:
        raise PatchError(f"{name} {pointer}: the parent is a scalar")


def base_document() -> dict[str, Any]:
    return yaml.safe_load(BASE.read_text())


def stack_document(path: Path) -> dict[str, Any]:
    """The full stack file (`{"config": {...}}`) the fixture at `path` describes."""
    doc = base_document()
    fixture = yaml.safe_load(path.read_text())
    if not isinstance(fixture, dict) or set(fixture) != {"patch"} or not fixture["patch"]:
        raise PatchError(f"{path.name}: expected a non-empty `patch:` list and nothing else")
    for op in fixture["patch"]:
        try:
            apply_op(doc["config"], op)
        except PatchError as err:
            raise PatchError(f"{path.name}: {err}") from None
    return doc


def expected(path: Path) -> str:
    """The message after the fixture's `# expect: ` line."""
    for line in path.read_text().splitlines():
        if line.startswith("# expect: "):
            return line[len("# expect: "):]
    raise AssertionError(f"{path.name} has no '# expect:' line")


def write_stack_file(path: Path, directory: Path, stack: str = "prod") -> Path:
    """The fixture as a stack file `directory/Pulumi.<stack>.yaml`, for the CLI tests."""
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"Pulumi.{stack}.yaml"
    out.write_text(yaml.safe_dump(stack_document(path), sort_keys=False, allow_unicode=True))
    return out
