"""`python -m tools.config_doc [--check]` — write docs/config.md from the typed config models.

Pulumi.yaml can type only scalar and array keys (ADR 0001), so the reference for the
structured keys is generated from `components/config/` itself: every dotted key, its type,
and its default or "required". `--check` exits 1 when the file is out of date (tests use it).
"""

from __future__ import annotations

import argparse
import sys
import types
import typing

from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from components.config import SECRET_KEYS, StackConfig
from components.config.parse import SECRET_MAPS
from tools.paths import ROOT

OUT = ROOT / "docs" / "config.md"


def _models_in(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is typing.Literal:
        return " or ".join(f"`{a}`" for a in args)
    if origin is tuple:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}"
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return {"IPv4Address": "IPv4 address", "IPv4Network": "IPv4 network", "str": "string",
            "int": "integer", "bool": "boolean", "float": "number"}.get(getattr(annotation, "__name__", ""),
                                                                       str(annotation))


def _default(info) -> str:
    if info.is_required():
        return "**required**"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(see below)"
    if value is None:
        return "none"
    if value in ((), {}):
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str, str]]:
    """(dotted key, type, default, what it is) for every field, depth first."""
    out = []
    for name, info in model.model_fields.items():
        key = f"{prefix}.{info.alias or to_camel(name)}" if prefix else (info.alias or to_camel(name))
        subs = _models_in(info.annotation)
        about = " ".join((subs[0].__doc__ or "").split("\n\n")[0].split()) if subs else (info.description or "")
        out.append((key, _type_name(info.annotation), _default(info), about))
        for sub in subs:
            sub_prefix = key + ("[]" if typing.get_origin(info.annotation) is tuple else "")
            out += rows(sub, sub_prefix)
    return out


def render() -> str:
    lines = [
        "# Stack configuration reference",
        "",
        "Generated from `components/config/` by `python -m tools.config_doc`; do not edit by hand.",
        "Keys live under the `k3s-platform:` namespace in `Pulumi.<stack>.yaml`.",
        "Cross-field rules (node addresses inside the LAN and outside the DHCP range, disjoint",
        "CIDRs, an odd number of servers, unique names/IPs/MACs/hosts, hostnames under `domain`,",
        "LimitRange within quota) are listed in `components/config/stack.py` (`CROSS_RULES`).",
        "",
        "Secrets, set with `pulumi config set --secret <key>`: "
        + ", ".join(f"`{k}`" for k in SECRET_KEYS) + ". Secret maps, each field set with "
        "`pulumi config set --secret --path '<key>.<field>'`, read only by the setting named: "
        + ", ".join(f"`{k}` ({where})" for k, where in SECRET_MAPS.items()) + ".",
        "",
        "| key | type | default | what |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{key}` | {type_} | {default} | {about} |" for key, type_, default, about in rows(StackConfig, "")]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.config_doc")
    parser.add_argument("--check", action="store_true", help="fail if docs/config.md is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not OUT.is_file() or OUT.read_text() != text:
            print(f"{OUT} is out of date: run python -m tools.config_doc", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
