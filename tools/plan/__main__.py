"""`python -m tools.plan <stack> [--out DIR] [--config-file FILE]` — what `pulumi up` would create.

Runs the program offline under Pulumi's mocks with the stack's own config and writes the
plan files (see tools/plan/render.py). Exit codes: 0 plan written; 1 a schema or mandatory
policy violation; 2 invalid config or arguments.

On a long plan (LONG_PLAN registrations or more, or with --progress) each stage prints one
line to stderr as it ends: stack evaluated, objects validated, policies checked, files
rendered and written, with counts and seconds. Without Graphviz the plan is still written
(architecture.dot, no pictures) and one line says so.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from tools.plan.build import PlanFailure, build_plan

LONG_PLAN = 500  # registrations: from here a plan takes long enough to show its stages


class _StageLines:
    """Prints stage lines to stderr: all of them with --progress, else from the first stage
    on if the stack turns out large (the first line carries the registration count)."""

    def __init__(self, always: bool) -> None:
        self.on = always

    def __call__(self, line: str) -> None:
        if not self.on and line.startswith("plan: stack evaluated: "):
            self.on = int(line.split(": ")[2].split()[0]) >= LONG_PLAN
        if self.on:
            print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plan", description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="stack name: dev or prod (reads Pulumi.<stack>.yaml)")
    parser.add_argument("--out", type=Path, help="output directory (default: plan-out/<stack>)")
    parser.add_argument("--config-file", type=Path, help="a stack config file in Pulumi.<stack>.yaml format")
    parser.add_argument("--progress", action="store_true",
                        help=f"print each stage's line to stderr (default: only for {LONG_PLAN}+ registrations)")
    args = parser.parse_args(argv)
    out = args.out or Path("plan-out") / args.stack
    progress = _StageLines(args.progress)
    try:
        plan = build_plan(args.stack, args.config_file, progress=progress)
    except PlanFailure as failure:
        print(failure, file=sys.stderr)
        return 2
    if out.exists():
        shutil.rmtree(out)  # stale files from an earlier plan would mislead reviewers
    for note in plan.write(out, progress):
        print(note, file=sys.stderr)
    print(plan.summary_text)
    print(f"plan written to {out}")
    return 1 if plan.failed else 0


if __name__ == "__main__":
    sys.exit(main())
