"""Check plain Kubernetes manifests against the platform's policy pack, before deploying.

    python -m tools.policycheck PATH... [--stack STACK | --config FILE] [--only NAME[,NAME...]]

PATH is a manifest file (multi-document YAML or JSON), a folder searched recursively
for *.yaml, *.yml and *.json (any case: *.YAML too), or `-`: YAML (or JSON) on standard
input, e.g. `helm template ... | ./run policycheck - --stack prod`. YAML is read by components.safe_yaml
(alias bombs, deep nesting and duplicate keys are refused, naming file, line and column) and
decoded as kubectl and the API server decode it (components/go_yaml.py, go-yaml v2 rules:
`runAsNonRoot: yes` is true, `runAsUser: 0o0` is root); NaN and infinities are refused. The manifests go through the real policy pack (its analyzer
server, as `pulumi preview` runs it; see tools/imitations/policy_runner.py), as one stack, so
stack-wide policies (quotas, default-deny) see every object given.

Prints one line per violation on stdout — `policy  Kind/namespace/name  message` — and a
summary on stderr. Exit status: 1 if any violation is mandatory, 0 otherwise, 2 on bad
input (named on stderr), 130 when interrupted (Ctrl-C).
`--stack` applies policies/config/<stack>.json (enforcement levels
and thresholds); `--config FILE` applies a file in the `--policy-pack-config` format
(e.g. {"pod-security-restricted": {"kubernetesVersion": "1.37"}}), on top of the stack's
config when both are given (its settings win, policy by policy); with neither, every policy
is mandatory with its default settings.
`--only` runs a subset: policy names, or the group `pod-security`.
"""

from __future__ import annotations

if __name__ == "__main__":  # Ctrl-C from the first import on: one line, rc 130 (tools/cli.py)
    from tools.cli import stop_on_interrupt

    stop_on_interrupt("policycheck")

import argparse
import json
import stat
import sys
from pathlib import Path

from components import go_yaml, safe_yaml
from tools.caller import caller_path
from tools.cli import finish
from tools.imitations.policy_runner import (
    PolicyRunError,
    Violation,
    check_resources,
    load_stack_config,
    manifest_resources,
)

SUFFIXES = (".yaml", ".yml", ".json")
STDIN = Path("<stdin>")  # the `-` argument


def _is_manifest(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES and path.is_file()


def collect_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        if not raw.strip():  # Path("") is ".": an empty argument would scan the working directory
            raise PolicyRunError("an empty PATH was given — name a manifest file or folder (use . for this folder)")
        if raw == "-":
            if STDIN in files:
                raise PolicyRunError("- is given twice — standard input can be read once")
            files.append(STDIN)
            continue
        path = caller_path(raw)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if _is_manifest(p))
        elif path.is_file():
            files.append(path)
        elif path.exists():  # a FIFO, socket or device: reading it could block forever
            raise PolicyRunError(f"{raw}: not a regular file ({_file_type(path)}) — pass a manifest file or folder")
        else:
            raise PolicyRunError(f"{raw}: no such file or folder — check the path (relative to where you ran the command)")
    if not files:
        raise PolicyRunError(f"no manifest files (*.yaml, *.yml, *.json) under {', '.join(paths)} — give a manifest file or a folder holding some")
    return files


def _file_type(path: Path) -> str:
    mode = path.stat().st_mode
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def _read_stdin() -> str:
    limit = safe_yaml.DEFAULT_LIMITS.max_bytes
    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        raise PolicyRunError(f"standard input: larger than {limit} bytes — split it")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise PolicyRunError(f"standard input: not UTF-8 (byte {err.start}) — send UTF-8") from None


def _load_file(f: Path) -> list:
    if f == STDIN:
        return _kubectl_yaml(_read_stdin(), "<stdin>")  # JSON is YAML too, and is read alike
    try:
        if f.stat().st_size > safe_yaml.DEFAULT_LIMITS.max_bytes:
            raise PolicyRunError(f"{f}: larger than {safe_yaml.DEFAULT_LIMITS.max_bytes} bytes — split it")
        text = f.read_text(encoding="utf-8")
    except OSError as err:
        raise PolicyRunError(f"{f}: cannot read ({err.strerror or err}) — check the path and permissions") from None
    except UnicodeDecodeError as err:
        raise PolicyRunError(f"{f}: not UTF-8 (byte {err.start}) — save it as UTF-8") from None
    if f.suffix.lower() != ".json":
        return _kubectl_yaml(text, str(f))
    try:
        return [_as_api_server_json(json.loads(text, parse_constant=_no_constant))]
    except json.JSONDecodeError as err:
        raise PolicyRunError(f"{f}:{err.lineno}:{err.colno}: not valid JSON ({err.msg}) — fix the syntax") from None
    except ValueError as err:
        raise PolicyRunError(f"{f}: {err} — JSON has no NaN or infinity; write a number") from None
    except RecursionError:
        raise PolicyRunError(f"{f}: JSON nested too deeply — flatten it") from None


def _kubectl_yaml(text: str, source: str) -> list:
    """The documents of `text` as kubectl and the API server read them (go-yaml v2 rules:
    `yes`/`n` are booleans, `0o0` and `0e0` numbers, dates text), so the policies judge the
    object that will be admitted, not PyYAML's reading of it."""
    try:
        return [go_yaml.to_value(node, go_yaml.V2, source=source) for node in safe_yaml.compose_all(text, source=source)]
    except (safe_yaml.YamlError, go_yaml.GoYamlError) as err:
        raise PolicyRunError(str(err)) from None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")  # Python's json accepts it; Go's does not


def _as_api_server_json(value: object) -> object:
    """Numbers as the API server decodes them into its typed fields: 0.0 is the integer 0."""
    if isinstance(value, dict):
        return {k: _as_api_server_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_api_server_json(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def load_documents(files: list[Path]) -> tuple[list, list[str]]:
    """All documents of all files, with a parallel list naming each one's origin."""
    docs: list = []
    sources: list[str] = []
    for f in files:
        loaded = _load_file(f)
        for i, doc in enumerate(loaded):
            docs.append(doc)
            sources.append(f"{f}" if len(loaded) == 1 else f"{f} (document {i + 1})")
    return docs, sources


def load_config_file(path: str) -> dict:
    file = caller_path(path)
    if file.exists() and not file.is_file():
        raise PolicyRunError(f"--config {path}: not a regular file ({_file_type(file)}) — pass a JSON file")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as err:
        raise PolicyRunError(f"--config {path}: cannot read ({err.strerror}) — check the path and permissions") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        why = f"{err.msg} at line {err.lineno}" if isinstance(err, json.JSONDecodeError) else err.__class__.__name__
        raise PolicyRunError(f"--config {path}: invalid JSON ({why}) — fix the file") from None
    if not isinstance(data, dict):
        raise PolicyRunError(f"--config {path}: must be a JSON object — e.g. policies/config/dev.json")
    return data


def merge_pack_config(base: dict, override: dict) -> dict:
    """`override` on top of `base`, policy by policy (both in --policy-pack-config format):
    a level string replaces the level only; an object's keys replace those keys only."""
    merged = dict(base)
    for name, value in override.items():
        old = merged.get(name)
        if isinstance(value, str) and isinstance(old, dict):
            merged[name] = {**old, "enforcementLevel": value}
        elif isinstance(value, dict) and isinstance(old, str):
            merged[name] = {"enforcementLevel": old, **value}
        elif isinstance(value, dict) and isinstance(old, dict):
            merged[name] = {**old, **value}
        else:
            merged[name] = value
    return merged


def format_violation(v: Violation) -> str:
    return f"{v.policy}  {v.kind_ref()}  {' '.join(v.message.split())}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.policycheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", metavar="PATH", help="manifest file or folder, or - for standard input")
    parser.add_argument("--stack", help="apply policies/config/<STACK>.json (e.g. dev, prod)")
    parser.add_argument("--config", metavar="FILE",
                        help="a --policy-pack-config JSON file (on top of --stack's config when both are given)")
    parser.add_argument("--only", help="comma-separated policy names or groups (pod-security)")
    args = parser.parse_args(argv)
    try:
        files = collect_files(args.paths)
        docs, sources = load_documents(files)
        resources = manifest_resources(docs, stack=args.stack or "manifests", sources=sources)
        only = set(args.only.split(",")) if args.only else None
        config = load_config_file(args.config) if args.config else None
        if config is not None and args.stack:
            config = merge_pack_config(load_stack_config(args.stack), config)
        violations = check_resources(resources, stack=args.stack, config=config, only=only) if resources else []
    except PolicyRunError as err:
        print(f"policycheck: {err}", file=sys.stderr)
        return 2
    for v in violations:
        print(format_violation(v))
    mandatory = sum(v.enforcement == "mandatory" for v in violations)
    objects = {v.urn for v in violations if v.urn}
    print(f"policycheck: {len(resources)} objects from {len(files)} files; {len(violations)} violations "
          f"({mandatory} mandatory) on {len(objects)} objects", file=sys.stderr)
    return 1 if mandatory else 0


if __name__ == "__main__":
    sys.exit(finish("policycheck", main))
