"""`./run plan <stack> --against GIT_REF` — prove that a refactor moves no resource.

Runs the program twice under mocks: as it is at GIT_REF (its files exported from git into a
temporary directory and run there in a subprocess, with that revision's own stack files) and
as it is in the working tree; then compares the two runs with the change mode's engine rules
(`tools/imitations/engine_rules.diff_runs`: matched by URN or alias) and prints the same report.
Exit: 0 when every resource is kept (same or updated in place), 1 when any is replaced,
deleted or created, 2 when either side cannot run (bad ref, invalid config). With
`--report-only` (the merge-request gate) creates and in-place updates pass too: 1 only for what
a reviewer must approve (tools/plan/review.py), with the pack run over the new side.

The old side writes its registrations with `python -m tools.plan <stack> --dump-registrations
FILE`; a revision from before that flag existed is dumped by this file run as a script with
the old revision first on `sys.path` (so it is the old harness and program that run).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

DUMP_FLAG = "--dump-registrations"
FORMAT = 1  # version of the JSON written by `dump_run`


class AgainstError(Exception):
    """One side could not be run; the message says which and why."""


# --- the JSON form of a run ---------------------------------------------------------------------


_ASSET_ATTRS = ("text", "path", "uri", "assets")
_TAG = "__k3sp_sdk__"  # marks an SDK object (asset, archive, resource) in the JSON


def _encode(value):
    """SDK objects in inputs, as data `_decode` turns back into what `canonical` compares."""
    name = value.__class__.__name__
    if name.endswith(("Asset", "Archive")):
        for attr in _ASSET_ATTRS:
            if getattr(value, attr, None) is not None:
                return {_TAG: name, attr: getattr(value, attr)}
    urn = getattr(value, "urn", None)
    if urn is not None and hasattr(urn, "future"):
        return {_TAG: name, "resource": True}
    raise TypeError(f"cannot write {name} to a registrations dump")


class _Future:
    future = None


def _decode(obj: dict):
    if _TAG not in obj:
        return obj
    import pulumi

    name = obj[_TAG]
    if obj.get("resource"):
        return type(name, (), {"urn": _Future()})()  # `canonical` compares a resource by its class
    attr = next(a for a in _ASSET_ATTRS if a in obj)
    return getattr(pulumi, name)(obj[attr])


def dump_run(run, path: Path) -> None:
    """Write a `StackRun`'s registrations (inputs in wire form, secrets still marked) as JSON."""
    doc = {"format": FORMAT, "stack": run.stack,
           "registrations": [dataclasses.asdict(r) for r in run.registrations]}
    Path(path).write_text(json.dumps(doc, indent=1, sort_keys=True, default=_encode) + "\n", encoding="utf-8")


def load_run(path: Path):
    """A `StackRun` back from `dump_run`'s JSON. Fields this revision's `Registration` does not
    know are dropped; fields it has and the dump lacks keep their defaults."""
    from tools.imitations.harness import Registration, StackRun, with_engine_urns

    doc = json.loads(Path(path).read_text(encoding="utf-8"), object_hook=_decode)
    known = {f.name for f in dataclasses.fields(Registration)}
    regs = [Registration(**{k: v for k, v in raw.items() if k in known}) for raw in doc["registrations"]]
    # A revision whose harness kept the stock mock URNs: compared in the engine's URNs.
    return with_engine_urns(StackRun(doc["stack"], regs))


def _harness():
    """The harness of the revision being run. This file also dumps for old revisions (`_main`),
    and those from before issue 31 have it at tools/harness.py."""
    import importlib

    try:
        return importlib.import_module("tools.imitations.harness")
    except ModuleNotFoundError as err:
        if err.name not in ("tools.imitations", "tools.imitations.harness"):
            raise
        return importlib.import_module("tools.harness")


def dump_registrations(stack: str, config_file: Path | None, out: Path) -> int:
    """The hidden `--dump-registrations FILE` mode of `python -m tools.plan`."""
    import pulumi

    harness = _harness()
    try:
        run = harness.run_stack(stack, config_file)
    except (harness.ConfigFileError, pulumi.RunError) as err:
        print(err, file=sys.stderr)
        return 2
    dump_run(run, out)
    return 0


# --- the old side ---------------------------------------------------------------------------


@contextlib.contextmanager
def exported_tree(ref: str, repo: Path) -> Iterator[Path]:
    """The files of `ref` (as committed) in a temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="k3sp-against-") as tmp:
        resolved = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                                  cwd=repo, capture_output=True, text=True)
        if resolved.returncode != 0:
            raise AgainstError(f"--against {ref}: not a commit in {repo} — pass a branch, tag or commit")
        archive = subprocess.run(["git", "archive", "--format=tar", resolved.stdout.strip()],
                                 cwd=repo, capture_output=True)
        if archive.returncode != 0:
            raise AgainstError(f"--against {ref}: git archive failed: {archive.stderr.decode(errors='replace')}")
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        yield Path(tmp)


def run_at(tree: Path, stack: str, config_file: Path | None, python: str = sys.executable):
    """Run the program of `tree` for `stack` in a subprocess and load its registrations."""
    out = tree / ".registrations.json"
    main = tree / "tools" / "plan" / "__main__.py"
    if main.is_file() and DUMP_FLAG in main.read_text(encoding="utf-8"):
        cmd = [python, "-m", "tools.plan", stack, DUMP_FLAG, str(out)]
    else:  # a revision from before the flag: this file dumps with the old revision's harness
        cmd = [python, str(Path(__file__).resolve()), stack, str(out)]
    if config_file is not None:
        cmd += ["--config-file", str(Path(config_file).resolve())]
    env = {k: v for k, v in os.environ.items() if k != "K3S_PLATFORM_CALLER_CWD"}
    env["PYTHONPATH"] = str(tree)
    done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not out.is_file():
        raise AgainstError(f"the program at the old revision failed (exit {done.returncode}):\n"
                           f"{done.stderr.strip() or done.stdout.strip()}")
    return load_run(out)


# --- the comparison -------------------------------------------------------------------------


def run_against(stack: str, ref: str, config_file: Path | None = None, repo: Path | None = None, *,
                report_only: bool = False, out: tuple[Path, tuple[Path, ...]] | None = None,
                command: str = "") -> int:
    """Exit 0/1/2 as the module says; with `report_only` 1 only for what needs a reviewer
    (tools/plan/review.py), the pack run on the new side; `out` = (directory, paths it must
    not contain) gets report.md and report.txt."""
    import pulumi

    from tools.imitations.engine_rules import CREATE, DELETE, REPLACE, change_report, diff_runs
    from tools.imitations.harness import ConfigFileError, run_stack
    from tools.paths import ROOT
    from tools.plan import review
    from tools.plan.build import stack_policy_violations

    repo = repo or ROOT
    try:
        with exported_tree(ref, repo) as tree:
            old = run_at(tree, stack, config_file)
        new = run_stack(stack, config_file)
        violations = stack_policy_violations(new, stack, config_file) if report_only else None
    except AgainstError as err:
        print(f"plan: {err}", file=sys.stderr)
        return 2
    except (ConfigFileError, pulumi.RunError) as err:
        print(f"plan: the program in the working tree failed:\n{err}", file=sys.stderr)
        return 2
    steps = diff_runs(old, new)
    title = f"changes for {stack}: {ref} -> working tree"
    lines = change_report(steps, title).lines
    if report_only:
        verdict, code = review.verdict_lines(steps, violations or [])
        lines += verdict
    else:
        moved = [s for s in steps if s.op in (REPLACE, DELETE, CREATE)]
        if moved or change_report(steps, title).failed:
            lines.append(f"MOVED: {len(moved)} resource(s) replaced, deleted or created against {ref}")
            code = 1
        else:
            lines.append(f"ok: no resource is replaced, deleted or created against {ref} "
                         f"({len(steps)} resources, {sum(1 for s in steps if s.op != 'same')} updated in place)")
            code = 0
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if out is None:
        return code
    from tools.plan.outdir import write_change_reports

    return write_change_reports(out, review.change_markdown(title, steps, violations, command=command), text, code)



def _main(argv: list[str]) -> int:
    """`python tools/plan/against.py STACK FILE [--config-file F]`: the dump for old revisions."""
    import argparse

    parser = argparse.ArgumentParser(prog="against.py")
    parser.add_argument("stack")
    parser.add_argument("out", type=Path)
    parser.add_argument("--config-file", type=Path)
    args = parser.parse_args(argv)
    return dump_registrations(args.stack, args.config_file, args.out)


if __name__ == "__main__":
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if p != here]  # the old revision's `tools` comes from PYTHONPATH
    sys.exit(_main(sys.argv[1:]))
