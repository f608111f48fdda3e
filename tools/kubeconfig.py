"""`./run kubeconfig <stack> <person>`: one person's kubeconfig, from the stack's state, to a file.

The kubeconfig is the secret stack output `peopleKubeconfigs[<person>]` (components/platform/
people.py). It is read with the Pulumi CLI the operator already uses (`pulumi stack output
--show-secrets`, so their backend login and passphrase apply) and written with mode 0600 to
`--out` (default `kubeconfig-<stack>-<person>.yaml` where the command was run). It reaches
standard output only with an explicit `--stdout`, never because a flag was forgotten.

Exit codes: 0 written; 2 bad input (unknown person, no such stack or output, a refused read),
with a message that names what to fix and never any part of a kubeconfig.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tools.caller import caller_path
from tools.paths import ROOT

OUTPUT = "peopleKubeconfigs"


class KubeconfigError(Exception):
    pass


def read_people_kubeconfigs(stack: str, pulumi: str, cwd: Path) -> dict[str, str]:
    """`peopleKubeconfigs` of `stack`, decrypted, via the Pulumi CLI."""
    try:
        proc = subprocess.run(
            [pulumi, "stack", "output", OUTPUT, "--show-secrets", "--json", "--stack", stack, "--non-interactive"],
            cwd=cwd, capture_output=True, text=True, timeout=300)
    except FileNotFoundError:
        raise KubeconfigError(f"no Pulumi CLI at {pulumi!r} — install it, or name it with --pulumi") from None
    if proc.returncode != 0:
        # The CLI's own words (it never prints secrets in an error); the last lines are the reason.
        reason = " ".join(proc.stderr.strip().splitlines()[-3:])[:500] or f"exit code {proc.returncode}"
        raise KubeconfigError(f"pulumi stack output {OUTPUT} of stack {stack!r} failed: {reason}")
    try:
        value = json.loads(proc.stdout or "null")
    except json.JSONDecodeError:
        raise KubeconfigError(f"pulumi stack output {OUTPUT} of stack {stack!r} did not print JSON") from None
    if not isinstance(value, dict):
        raise KubeconfigError(f"stack {stack!r} has no {OUTPUT} output — run `pulumi up` with a k3s-platform "
                              "version that issues people's kubeconfigs first")
    return {str(k): str(v) for k, v in value.items()}


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only, replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./run kubeconfig", description=__doc__.split("\n\n")[0])
    parser.add_argument("stack")
    parser.add_argument("person")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--out", help="file to write (mode 0600); default kubeconfig-<stack>-<person>.yaml")
    where.add_argument("--stdout", action="store_true", help="print the kubeconfig instead of writing a file")
    parser.add_argument("--pulumi", default=os.environ.get("PULUMI") or shutil.which("pulumi") or "pulumi",
                        help="the Pulumi CLI (default: pulumi on PATH)")
    parser.add_argument("--cwd", default=str(ROOT), help="the Pulumi project directory (default: this repository)")
    args = parser.parse_args(argv)
    try:
        configs = read_people_kubeconfigs(args.stack, args.pulumi, Path(args.cwd))
        if args.person not in configs:
            known = ", ".join(sorted(configs)) or "(nobody: add people to the stack config and run pulumi up)"
            raise KubeconfigError(f"{args.person!r} is not in people of stack {args.stack!r} — name one of {known}")
        text = configs[args.person]
        if args.stdout:
            sys.stdout.write(text)
            return 0
        out = caller_path(args.out or f"kubeconfig-{args.stack}-{args.person}.yaml")
        write_private(out, text)
    except KubeconfigError as err:
        print(f"kubeconfig: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"kubeconfig: cannot write {err.filename}: {err.strerror}", file=sys.stderr)
        return 2
    print(f"kubeconfig of {args.person} on stack {args.stack}: {out} (mode 0600)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
