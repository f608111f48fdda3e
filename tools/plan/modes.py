"""The plan's `--fresh-preview` and `--from OLD_CONFIG_FILE` modes: run the program (once, or
on the old and the new config), apply the engine rules (tools/imitations/engine_rules.py) and
report. The rules are plain functions over runs; running the program for them is the plan's part.
"""

from __future__ import annotations

from tools.imitations.engine_rules import (
    change_report,
    construct_errors,
    diff_runs,
    unconfigured_provider_resources,
)
from tools.imitations.harness import StackRun


def fresh_preview_policy_errors(run: StackRun, unconfigured: set[str]) -> list[str]:
    """The pack as the engine calls it in this preview: mandatory violations fail it."""
    from tools.plan.build import check_policies

    found = check_policies(run, outputs_unknown=unconfigured)
    return [f"error: policy {v['policy']} ({v['enforcement']}) on {v['resource']}: {v['message']}"
            for v in found if v["enforcement"] == "mandatory"]


def run_mode(stack: str, config_file=None, *, fresh_preview: bool = False, old_config=None, program=None,
             report_only: bool = False, out=None, command: str = "") -> int:
    """`./run plan <stack> --fresh-preview | --from OLD_CONFIG_FILE`. Exit: 0 ok, 1 the engine
    would refuse (or a change would run a host-side delete on a kept resource), 2 bad config.
    `report_only` (with --from): 1 only for what a reviewer must approve (tools/plan/review.py).
    `out` = (directory, paths it must not contain) gets report.md and report.txt."""
    import sys

    import pulumi

    from tools.imitations.harness import ConfigFileError, run_stack
    from tools.plan import review
    from tools.plan.build import stack_policy_violations

    violations = None
    try:
        if fresh_preview:
            run = run_stack(stack, config_file, program=program, fresh_preview=True)
            errors = construct_errors(run)
            unconfigured = unconfigured_provider_resources(run)
            summary = (f"fresh preview of {stack}: {len(run.registrations)} registrations, "
                       f"{sum(1 for r in run.registrations if r.remote)} remote components, "
                       f"{len(unconfigured)} resources on a provider not configured yet (empty outputs "
                       "for the stack policies)")
            errors += fresh_preview_policy_errors(run, unconfigured)
        else:
            old = run_stack(stack, old_config, program=program)
            new = run_stack(stack, config_file, program=program)
            if report_only:
                violations = stack_policy_violations(new, stack, config_file)
    except (ConfigFileError, pulumi.RunError) as err:
        print(err, file=sys.stderr)
        return 2
    if fresh_preview:
        lines = [summary, *errors,
                 f"FAILED: {len(errors)} engine error(s)" if errors else "ok: the engine would accept this preview"]
        markdown = review.fresh_preview_markdown(stack, summary, errors, command=command)
        code = 1 if errors else 0
    else:
        title = f"changes for {stack}: {old_config} -> {config_file or f'Pulumi.{stack}.yaml'}"
        steps = diff_runs(old, new)
        report = change_report(steps, title)
        lines = list(report.lines)
        code = 1 if report.failed else 0
        if report_only:
            verdict, code = review.verdict_lines(steps, violations or [])
            lines += verdict
        markdown = review.change_markdown(title, steps, violations, command=command)
    text = "\n".join(lines) + "\n"
    print(text, end="")
    from tools.plan.outdir import write_change_reports

    return write_change_reports(out, markdown, text, code)

