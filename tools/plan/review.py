"""What a reviewer reads in a merge request: the change report as Markdown, and which of its
steps need the reviewer's approval (`--report-only`).

A merge request that only creates resources or updates them in place (a tenant added, a quota
raised, a chart value changed) is ordinary and passes. A reviewer must approve, and the gate
fails until one does:

- a replace (the old resource is deleted and a new one made: downtime, new identities);
- a delete that runs a script on a host (a node drained, k3s uninstalled, its data wiped);
- a step the engine refuses, among them any replace or delete of a protected resource;
- a mandatory policy violation of the new side.

Plain deletes that run nothing on a host (a tenant removed) pass but are listed first after
the verdict, so a reviewer sees them. Pure functions over the change mode's `Step`s and the
pack's violation dicts (tools/plan/build.check_policies); values never appear, only names
and property paths, as in the text report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tools.imitations.engine_rules import CREATE, DELETE, REPLACE, SAME, STEP_ORDER, UPDATE, Step

REPORT_FILE = "report.md"
TEXT_FILE = "report.txt"
DETAILS_FROM = 15  # longer step lists are folded (<details>) so the verdict stays on screen


@dataclass(frozen=True)
class Approval:
    """One reason the change needs a reviewer: what kind, and the line that says it."""

    kind: str  # replace | host-delete | refused | policy
    text: str


def approvals(steps: Iterable[Step], violations: Iterable[dict] = ()) -> list[Approval]:
    """Every step and violation a reviewer must approve, in the order the report lists them."""
    out: list[Approval] = []
    for step in sorted(steps, key=lambda s: (STEP_ORDER.index(s.op), s.type, s.name)):
        if step.error:
            out.append(Approval("refused", f"{step.op} {step.type} {step.name}: the engine refuses it — {step.error}"))
            if step.destructive:  # once allowed (unprotected), it runs on the host: say so too
                out.append(Approval("host-delete", f"{step.op} {step.type} {step.name} runs on {step.destructive}"))
        elif step.op == REPLACE:
            why = f" (replace: {', '.join(step.replace_keys)})" if step.replace_keys else ""
            where = f", its delete runs on {step.destructive}" if step.destructive else ""
            out.append(Approval("replace", f"replace {step.type} {step.name}{why}{where}"))
        elif step.op == DELETE and step.destructive:
            out.append(Approval("host-delete", f"delete {step.type} {step.name} runs on {step.destructive}"))
    for v in violations:
        if v.get("enforcement") == "mandatory":
            out.append(Approval("policy", f"policy {v['policy']} (mandatory) on {v['resource']}: {v['message']}"))
    return out


def verdict_lines(steps: list[Step], violations: list[dict]) -> tuple[list[str], int]:
    """The `--report-only` ending of the text report, and its exit code (1: needs approval)."""
    needed = approvals(steps, violations)
    lines = [f"  policy: {v['policy']} ({v['enforcement']}) on {v['resource']}: {v['message']}" for v in violations]
    if needed:
        lines.append(f"NEEDS APPROVAL: {len(needed)} item(s) — " + "; ".join(sorted({a.kind for a in needed})))
        return lines, 1
    lines.append("ok: only creates, in-place updates and deletes that run nothing on a host")
    return lines, 0


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (both GitLab and GitHub render these)."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _step_detail(step: Step) -> str:
    parts = []
    if step.replace_keys:
        parts.append("replace: " + ", ".join(f"`{k}`" for k in step.replace_keys))
    elif step.changed:
        shown = ", ".join(f"`{p}`" for p in step.changed[:6])
        parts.append("changed: " + shown + (" …" if len(step.changed) > 6 else ""))
    if step.order:
        parts.append(" then ".join(step.order))
    if step.destructive:
        parts.append(f"**runs on {step.destructive}**")
    if step.old_urn:
        parts.append(f"was `{step.old_urn}`")
    if step.note:
        parts.append(step.note)
    return _cell("; ".join(parts))


def _step_table(steps: list[Step]) -> list[str]:
    rows = ["| type | name | detail |", "|---|---|---|"]
    rows += [f"| `{_cell(s.type)}` | `{_cell(s.name)}` | {_step_detail(s)} |"
             for s in sorted(steps, key=lambda s: (s.type, s.name))]
    return rows


def change_markdown(title: str, steps: list[Step], violations: list[dict] | None = None,
                    *, command: str = "") -> str:
    """The change report as Markdown: verdict first, then what needs approval, then every
    step by kind. `violations` is None when the pack was not run (the refactor check)."""
    needed = approvals(steps, violations or ())
    counts = {op: sum(1 for s in steps if s.op == op) for op in STEP_ORDER}
    lines = [f"## {title}", ""]
    if needed:
        lines.append(f"**Needs a reviewer's approval: {len(needed)} item(s).**")
    else:
        lines.append("**No approval needed:** only creates, in-place updates and deletes that run nothing on a host.")
    lines += ["", "| " + " | ".join(STEP_ORDER) + " |", "|" + "---|" * len(STEP_ORDER),
              "| " + " | ".join(str(counts[op]) for op in STEP_ORDER) + " |", ""]
    if needed:
        lines += ["### Needs approval", ""]
        lines += [f"- **{a.kind}**: {_cell(a.text)}" for a in needed]
        lines.append("")
    if violations is not None:
        mandatory = sum(1 for v in violations if v.get("enforcement") == "mandatory")
        lines.append(f"Policy pack on the new side: {mandatory} mandatory, {len(violations) - mandatory} advisory "
                     "violation(s).")
        advisory = [v for v in violations if v.get("enforcement") != "mandatory"]
        lines += [f"- advisory {v['policy']} on {_cell(v['resource'])}: {_cell(v['message'])}" for v in advisory]
        lines.append("")
    for op in (DELETE, REPLACE, CREATE, UPDATE):
        group = [s for s in steps if s.op == op]
        if not group:
            continue
        heading = f"{op} ({len(group)})"
        if len(group) >= DETAILS_FROM:
            lines += [f"<details><summary>{heading}</summary>", "", *_step_table(group), "", "</details>", ""]
        else:
            lines += [f"### {heading}", "", *_step_table(group), ""]
    if counts[SAME]:
        lines += [f"{counts[SAME]} resource(s) unchanged.", ""]
    if command:
        lines += [f"Made by `{command}` (offline: the program under mocks, no state, no secrets).", ""]
    return "\n".join(lines)


def fresh_preview_markdown(stack: str, summary: str, errors: list[str], *, command: str = "") -> str:
    """The fresh-preview check as Markdown: its summary line and each engine error."""
    lines = [f"## Fresh preview of {stack}", "", summary, ""]
    if errors:
        lines += [f"**The engine would refuse this preview: {len(errors)} error(s).**", ""]
        lines += [f"- {_cell(e)}" for e in errors]
    else:
        lines.append("**The engine would accept this preview.**")
    lines.append("")
    if command:
        lines += [f"Made by `{command}` (offline: the program under mocks).", ""]
    return "\n".join(lines)


def plan_markdown(stack: str, summary_text: str, schema_errors: list[str], violations: list[dict]) -> str:
    """The offline plan's summary as Markdown (the same facts as its stdout)."""
    mandatory = [v for v in violations if v.get("enforcement") == "mandatory"]
    failed = bool(schema_errors or mandatory)
    lines = [f"## Offline plan of {stack}", ""]
    lines.append(f"**{'Failed' if failed else 'Passed'}:** {len(schema_errors)} schema error(s), "
                 f"{len(mandatory)} mandatory and {len(violations) - len(mandatory)} advisory policy violation(s).")
    lines.append("")
    if schema_errors:
        lines += ["### Schema errors", "", *[f"- {_cell(e)}" for e in schema_errors], ""]
    if violations:
        lines += ["### Policy violations", "", "| enforcement | policy | resource | message |", "|---|---|---|---|"]
        lines += [f"| {v['enforcement']} | {_cell(v['policy'])} | {_cell(v['resource'])} | {_cell(v['message'])} |"
                  for v in violations]
        lines.append("")
    # the resource counts per layer, as printed (summary_text stops before its violation lines)
    counts = summary_text.split("\npolicy violations:")[0]
    lines += ["<details><summary>resources per layer</summary>", "", "```", counts, "```", "", "</details>", ""]
    return "\n".join(lines)
