"""`python -m tools.plan <stack> [--out DIR] [--config-file FILE]` — what `pulumi up` would create.

`--fresh-preview`, `--from OLD_CONFIG_FILE` and `--against GIT_REF` check engine rules instead
(tools/plan/modes.py, tools/plan/against.py); `--report-only` makes the two change modes
a merge-request gate (tools/plan/review.py). In every mode `--out DIR` also gets `report.md`,
the Markdown a reviewer reads in the merge request.

Runs the program offline under Pulumi's mocks with the stack's own config and writes the
plan files (see tools/plan/render.py). Exit codes: 0 plan written; 1 a schema or mandatory
policy violation; 2 invalid config or arguments; 130 interrupted (Ctrl-C: nothing written).

On a long plan (LONG_PLAN registrations or more, or with --progress) each stage prints one
line to stderr as it ends: stack evaluated, objects validated, policies checked, files
rendered and written, with counts and seconds. Without Graphviz the plan is still written
(architecture.dot, no pictures) and one line says so.
"""

from __future__ import annotations

if __name__ == "__main__":  # Ctrl-C from the first import on: one line, rc 130 (tools/cli.py)
    from tools.cli import stop_on_interrupt

    stop_on_interrupt("plan")

import argparse
import sys
from pathlib import Path

from tools.cli import finish
from tools.paths import ROOT
from tools.plan.build import PlanFailure, build_plan
from tools.plan.outdir import OutDirError, caller_path, check_target, write_atomically
from tools.plan.review import REPORT_FILE, plan_markdown

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
    parser.add_argument("--out", type=Path, help="output directory, relative to where you run the command "
                        "(default: plan-out/<stack> in the repository); only an earlier plan is ever replaced")
    parser.add_argument("--config-file", type=Path, help="a stack config file in Pulumi.<stack>.yaml format")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--fresh-preview", action="store_true",
                      help="check the engine rules of a first `pulumi preview` (computed outputs unknown)")
    mode.add_argument("--from", dest="from_config", type=Path, metavar="OLD_CONFIG_FILE",
                      help="list the steps `pulumi up` would take from OLD_CONFIG_FILE to this config")
    mode.add_argument("--against", metavar="GIT_REF",
                      help="the steps from the program and stack files at GIT_REF to the working tree; "
                           "exit 1 on any replace, delete or create (a refactor moves nothing)")
    parser.add_argument("--report-only", action="store_true",
                        help="with --against or --from: exit 0 for creates and in-place updates, 1 only for "
                             "what a reviewer must approve (replaces, deletes that run on a host, refused "
                             "steps such as a protected resource's, mandatory policy violations)")
    mode.add_argument("--dump-registrations", type=Path, metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--progress", action="store_true",
                        help=f"print each stage's line to stderr (default: only for {LONG_PLAN}+ registrations)")
    args = parser.parse_args(argv)
    if args.report_only and not (args.against or args.from_config):
        parser.error("--report-only: only with --against GIT_REF or --from OLD_CONFIG_FILE (a change to report)")
    out = caller_path(args.out) if args.out else ROOT / "plan-out" / args.stack
    config_file = caller_path(args.config_file) if args.config_file else None
    protected = (ROOT, caller_path("."))
    # The check modes print their report; they write files only when asked (--out).
    report_out = (caller_path(args.out), protected) if args.out else None
    if report_out:
        try:
            check_target(*report_out)  # before the long run: refuse early
        except OutDirError as failure:
            print(f"plan: {failure}", file=sys.stderr)
            return 2
    if args.against or args.dump_registrations:
        from tools.plan import against

        if args.dump_registrations:
            return against.dump_registrations(args.stack, config_file, caller_path(args.dump_registrations))
        return against.run_against(args.stack, args.against, config_file, report_only=args.report_only,
                                   out=report_out, command=_command(argv))
    if args.fresh_preview or args.from_config:
        from tools.plan.modes import run_mode

        return run_mode(args.stack, config_file, fresh_preview=args.fresh_preview,
                        old_config=caller_path(args.from_config) if args.from_config else None,
                        report_only=args.report_only, out=report_out, command=_command(argv))
    progress = _StageLines(args.progress)
    notes: list[str] = []
    try:
        check_target(out, protected)  # before the long run: refuse early
        plan = build_plan(args.stack, config_file, progress=progress)
        markdown = plan_markdown(args.stack, plan.summary_text, plan.schema_errors, plan.violations)

        def write(tmp: Path) -> None:
            notes.extend(plan.write(tmp, progress))
            (tmp / REPORT_FILE).write_text(markdown, encoding="utf-8")

        # stale files from an earlier plan would mislead: a complete plan replaces it whole
        write_atomically(out, write, protected)
    except (PlanFailure, OutDirError) as failure:
        print(f"plan: {failure}" if isinstance(failure, OutDirError) else failure, file=sys.stderr)
        return 2
    except OSError as err:  # disk full, no permission: the earlier plan, if any, is untouched
        print(f"plan: --out {out}: cannot write ({err.strerror or err}) — check the disk and permissions",
              file=sys.stderr)
        return 2
    for note in notes:
        print(note, file=sys.stderr)
    for warning in plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(plan.summary_text)
    print(f"plan written to {out}")
    return 1 if plan.failed else 0


def _command(argv: list[str] | None) -> str:
    """The command line, as the report's footer shows it (paths as given: no secrets are
    arguments of this tool)."""
    words = sys.argv[1:] if argv is None else argv
    return " ".join(["./run plan", *words])


def _release_event_loop() -> None:
    """Close the asyncio loop Pulumi's SDK leaves open before the interpreter's own teardown:
    collected during shutdown, after its self-pipe socket, its __del__ prints a traceback
    (seen once in CI under load), which would read as a crash of a clean exit."""
    import asyncio
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            return
    if not loop.is_running() and not loop.is_closed():
        loop.close()


if __name__ == "__main__":
    sys.exit(finish("plan", main, after=_release_event_loop))
