"""Check plain Kubernetes manifests against the platform's policy pack, before deploying.

    python -m tools.policycheck PATH... [--stack STACK | --config FILE] [--only NAME[,NAME...]]

PATH is a manifest file (multi-document YAML or JSON) or a folder searched recursively
for *.yaml, *.yml and *.json. The manifests go through the real policy pack (its analyzer
server, as `pulumi preview` runs it; see tools/policy_runner.py), as one stack, so
stack-wide policies (quotas, default-deny) see every object given.

Prints one line per violation on stdout — `policy  Kind/namespace/name  message` — and a
summary on stderr. Exit status: 1 if any violation is mandatory, 0 otherwise, 2 on bad
input (named on stderr). `--stack` applies policies/config/<stack>.json (enforcement levels
and thresholds); `--config FILE` applies any file in the `--policy-pack-config` format
instead (e.g. {"pod-security-restricted": {"kubernetesVersion": "1.37"}}); with neither,
every policy is mandatory with its default settings.
`--only` runs a subset: policy names, or the group `pod-security`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from tools.policy_runner import (
    PolicyRunError,
    Violation,
    check_resources,
    manifest_resources,
)

SUFFIXES = (".yaml", ".yml", ".json")


def collect_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise PolicyRunError(f"{raw}: no such file or folder")
    if not files:
        raise PolicyRunError(f"no manifest files (*.yaml, *.yml, *.json) under {', '.join(paths)}")
    return files


def load_documents(files: list[Path]) -> tuple[list, list[str]]:
    """All documents of all files, with a parallel list naming each one's origin."""
    docs: list = []
    sources: list[str] = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
            loaded = [json.loads(text)] if f.suffix == ".json" else list(yaml.safe_load_all(text))
        except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as err:
            mark = getattr(err, "problem_mark", None)
            line = f" (line {mark.line + 1})" if mark else ""
            raise PolicyRunError(f"{f}: not valid YAML/JSON{line}: "
                                 f"{getattr(err, 'problem', None) or err}") from None
        for i, doc in enumerate(loaded):
            docs.append(doc)
            sources.append(f"{f}" if len(loaded) == 1 else f"{f} (document {i + 1})")
    return docs, sources


def load_config_file(path: str) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise PolicyRunError(f"--config {path}: cannot read ({err.strerror})") from None
    except json.JSONDecodeError as err:
        raise PolicyRunError(f"--config {path}: invalid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(data, dict):
        raise PolicyRunError(f"--config {path}: must be a JSON object")
    return data


def format_violation(v: Violation) -> str:
    return f"{v.policy}  {v.kind_ref()}  {' '.join(v.message.split())}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.policycheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", metavar="PATH", help="manifest file or folder")
    parser.add_argument("--stack", help="apply policies/config/<STACK>.json (e.g. dev, prod)")
    parser.add_argument("--config", metavar="FILE", help="a --policy-pack-config JSON file (instead of --stack)")
    parser.add_argument("--only", help="comma-separated policy names or groups (pod-security)")
    args = parser.parse_args(argv)
    try:
        files = collect_files(args.paths)
        docs, sources = load_documents(files)
        resources = manifest_resources(docs, stack=args.stack or "manifests", sources=sources)
        only = set(args.only.split(",")) if args.only else None
        config = load_config_file(args.config) if args.config else None
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
    sys.exit(main())
