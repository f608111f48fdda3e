"""One rehearsed change: the real preview (what a merge request shows), then the real `up`,
kept side by side with what the hosts did, and checked against each other and against the
offline plan's change mode.

`rehearse(reh, doc, label)` writes `<label>.preview.events.jsonl`, `<label>.preview.txt`,
`<label>.up.events.jsonl`, `<label>.up.txt` and `<label>.summary.json` under the rehearsal's
`results/` folder and returns a `Change` whose `problems` lists every disagreement:

- a resource the preview said one thing of and the `up` did another;
- an uninstall that ran on a host whose steps the preview did not delete or replace (the
  rule: nothing the preview calls an update runs a delete on a host);
- a step where the change mode (tools/imitations/engine_rules.diff_runs over the previous and the
  new config) and the real preview differ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tools.engine import inline

REPLACE_OPS = {"replace", "create-replacement", "delete-replaced"}


@dataclass
class Change:
    label: str
    preview: inline.Run
    up: inline.Run | None
    preview_ops: dict[str, str]
    up_ops: dict[str, str]
    model_ops: dict[str, str] | None
    calls: dict[str, list[str]]
    model_refusals: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def ops(self, op: str) -> list[str]:
        return sorted(k for k, v in self.up_ops.items() if v == op)

    def changed(self) -> dict[str, str]:
        return {k: v for k, v in self.up_ops.items() if v != "same"}


def step_ops(run: inline.Run) -> dict[str, str]:
    """`type::name` -> the one op the engine took for it (a replace's three steps are one)."""
    out: dict[str, str] = {}
    for step in run.steps():
        if step["type"].startswith("pulumi:"):
            continue
        key = f"{step['type']}::{step['name']}"
        op = "replace" if step["op"] in REPLACE_OPS else step["op"]
        if out.get(key) != "replace":
            out[key] = op
    return out


def model_ops(stack: str, before: Path | None, after: Path) -> tuple[dict[str, str], list[str]]:
    """What the change mode says of the same change (all creates for a first deploy): the op
    per resource, and the steps it refuses (with why)."""
    from tools.imitations.engine_rules import diff_runs
    from tools.imitations.harness import run_stack

    new = run_stack(stack, after)
    if before is None:
        return {f"{r.type}::{r.name}": "create" for r in new.registrations if not r.type.startswith("pulumi:")}, []
    steps = [s for s in diff_runs(run_stack(stack, before), new) if not s.type.startswith("pulumi:")]
    return ({f"{s.type}::{s.name}": s.op for s in steps},
            [f"{s.name}: {s.error}" for s in steps if s.fails_change and s.error])


def disagreements(left_name: str, left: dict[str, str], right_name: str, right: dict[str, str]) -> list[str]:
    out = []
    for key in sorted(set(left) | set(right)):
        a, b = left.get(key, "same"), right.get(key, "same")
        if a != b:
            out.append(f"{key}: {left_name} says {a}, {right_name} says {b}")
    return out


def host_deletes_without_preview(preview_ops: dict[str, str], calls: dict[str, list[str]]) -> list[str]:
    out = []
    for host, lines in calls.items():
        if not any(line.startswith("uninstall") for line in lines):
            continue
        planned = [k for k, op in preview_ops.items()
                   if k.startswith("command:remote:Command::") and f"-{host}-" in k and op in ("delete", "replace")]
        if not planned:
            out.append(f"host {host}: an uninstall ran, but the preview deleted or replaced none of its steps")
    return out


def _save(run: inline.Run, folder: Path, label: str, kind: str) -> None:
    inline.write_events(run, folder / f"{label}.{kind}.events.jsonl")
    (folder / f"{label}.{kind}.txt").write_text("".join(line if line.endswith("\n") else line + "\n"
                                                        for line in run.output))


def rehearse(reh, doc: dict, label: str, *, check_model: bool = True, run_up: bool = True) -> Change:
    """Preview and (unless `run_up` is false) `up` the config `doc` on the rehearsal `reh`."""
    folder = reh.work / "results"
    folder.mkdir(exist_ok=True)
    before = reh.deployed_config
    engine = reh.engine(doc, label)
    after = reh.last_config
    preview = engine.preview()
    _save(preview, folder, label, "preview")
    for host in reh.lan.hosts.values():
        host.calls()  # what the preview ran on a host (nothing, it must be) is checked below
    preview_ops = step_ops(preview)
    up = None
    up_ops: dict[str, str] = {}
    if run_up and preview.error is None:
        up = engine.up()
        _save(up, folder, label, "up")
        up_ops = step_ops(up)
        reh.deployed_config = after
    calls = {name: host.calls() for name, host in reh.lan.hosts.items() if name not in reh.k3s.dead}
    modelled, refusals = model_ops(reh.stack, before, after) if check_model else (None, [])
    change = Change(label, preview, up, preview_ops, up_ops, modelled, calls, refusals)
    if preview.error is not None:
        change.problems.append(f"preview failed: {preview.error[-1500:]}")
    if up is not None:
        if up.error is not None:
            change.problems.append(f"up failed: {up.error[-3000:]}")
        change.problems += disagreements("the preview", preview_ops, "the up", up_ops)
        change.problems += host_deletes_without_preview(preview_ops, calls)
    if modelled is not None and preview.error is None:  # a failed preview stops short of its steps
        change.problems += disagreements("the change mode", modelled, "the real preview", preview_ops)
    (folder / f"{label}.summary.json").write_text(json.dumps({
        "label": label, "preview": _count(preview_ops), "up": _count(up_ops) if up else None,
        "changed": change.changed() if up else {k: v for k, v in preview_ops.items() if v != "same"},
        "host_calls": calls, "change_mode_refuses": refusals, "problems": change.problems}, indent=2) + "\n")
    return change


def _count(ops: dict[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for op in ops.values():
        counts[op] = counts.get(op, 0) + 1
    return counts
