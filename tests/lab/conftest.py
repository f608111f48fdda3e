"""Fixtures for the lab tests: one fresh lab (etcd + kube-apiserver + controller-manager on
127.0.0.1) per stack, with that stack's offline plan applied to it. If a lab started by
``./run lab apiserver`` is running, it is reset before each stack and used instead.

The lab tests run only under ``./run lab test`` (which sets K3SP_LAB=1), so the ordinary suite
never starts servers; without the built binaries they skip with one line naming
``./run lab build``. Timings are printed at the end of the session (``-s`` not needed).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tools.lab import binaries, cluster
from tools.lab import stack as lab_stack
from tools.lab.__main__ import current_file, stack_service_cidr

STACKS = ("dev", "prod")
TIMINGS: list[tuple[str, float]] = []
NOTES: list[str] = []  # facts the checks measured (quota usage, admission warnings on pods)
WARNINGS: list[str] = []  # every warning the API server gave while applying a plan, verbatim


def skip_reason() -> str | None:
    if os.environ.get("K3SP_LAB") != "1":
        return "lab tests run only with ./run lab test"
    if binaries.missing():
        return f"lab binaries not built ({', '.join(binaries.missing())}): run ./run lab build"
    return None


def pytest_collection_modifyitems(config, items):
    reason = skip_reason()
    if reason is None:
        return
    if os.environ.get("K3SP_LAB") == "1":
        # ./run lab test: a missing part fails the run, naming what provides it
        raise pytest.UsageError(f"lab: {reason}")
    marker = pytest.mark.skip(reason=reason)
    for item in items:
        if "tests/lab/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(marker)


def record(label: str, seconds: float) -> None:
    TIMINGS.append((label, round(seconds, 2)))


SCENARIOS = {"test_apply.py": "(a) plans applied to the real API server",
             "test_rbac.py": "(5) real RBAC authorizer vs rbac.md",
             "test_admission.py": "(6) real admission vs the policy pack",
             "test_pss_conformance.py": "(6c) real Pod Security vs the PSS conformance fixtures",
             "test_workloads.py": "(6b) the workloads' own pods through real admission"}


def pytest_report_header(config):
    if os.environ.get("K3SP_LAB") != "1":
        return "lab: skipped — lab tests run only with ./run lab test"
    if binaries.missing():
        return f"lab: skipped — lab binaries not built ({', '.join(binaries.missing())}): run ./run lab build"
    return f"lab: kube-apiserver {binaries.KUBERNETES_VERSION}, etcd {binaries.ETCD_VERSION}, stacks {', '.join(STACKS)}"


def pytest_terminal_summary(terminalreporter):
    counts: dict[str, dict[str, int]] = {}
    seconds: dict[str, float] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for rep in terminalreporter.stats.get(outcome, []):
            fname = getattr(rep, "nodeid", "").split("::")[0].rsplit("/", 1)[-1]
            if fname in SCENARIOS:
                seconds[fname] = seconds.get(fname, 0.0) + getattr(rep, "duration", 0.0)
            if fname in SCENARIOS and getattr(rep, "when", "call") in ("call", "setup"):
                if outcome == "passed" and rep.when != "call":
                    continue
                counts.setdefault(fname, {}).setdefault(outcome, 0)
                counts[fname][outcome] += 1
    if counts:
        terminalreporter.section("lab scenarios")
        if skip_reason() and not any(c.get("passed") or c.get("failed") for c in counts.values()):
            terminalreporter.write_line(f"lab skipped: {skip_reason()}")
        for fname, label in SCENARIOS.items():
            c = counts.get(fname, {})
            ran = "ran" if c.get("passed") or c.get("failed") or c.get("error") else "did not run"
            detail = ", ".join(f"{n} {k}" for k, n in sorted(c.items()))
            took = f", {seconds[fname]:.1f} s in the checks; setup timed below" if fname in seconds and ran == "ran" else ""
            terminalreporter.write_line(f"{label}: {ran} ({detail or 'no tests'}{took})")
    if WARNINGS:
        terminalreporter.section("API server warnings while applying the plans (verbatim)")
        for line in WARNINGS:
            terminalreporter.write_line(line)
    if NOTES:
        terminalreporter.section("lab measurements")
        for line in NOTES:
            terminalreporter.write_line(line)
    if TIMINGS:
        terminalreporter.section("lab timings (wall clock, seconds)")
        for label, seconds in TIMINGS:
            terminalreporter.write_line(f"{seconds:8.2f}  {label}")


@pytest.fixture(scope="session", params=STACKS)
def stack_lab(request, tmp_path_factory):
    """(lab, StackResult) for one stack: a fresh lab with the stack's plan applied."""
    name = request.param
    t0 = time.monotonic()
    plan_dir = lab_stack.write_plan(name, tmp_path_factory.mktemp(f"plan-{name}"))
    record(f"{name}: offline plan", time.monotonic() - t0)
    try:
        binaries.ensure_kubectl()
    except binaries.LabUnavailable as err:
        pytest.skip(f"lab: {err}")
    running = running_lab()
    if running is not None:
        # A lab from `./run lab apiserver`: emptied (etcd data wiped, processes restarted on the same
        # ports and PKI) before each stack, and left up with the last stack in it.
        running.service_cidr = stack_service_cidr(name)
        lab = cluster.reset(running)
        current_file().write_text((Path(lab.workdir) / "state.json").read_text())
        record(f"{name}: reset of the running lab (etcd wiped, restarted, ready)", lab.started_seconds)
    else:
        lab = cluster.start(stack_service_cidr(name))
        record(f"{name}: lab startup (PKI, etcd, kube-apiserver ready, controller-manager)", lab.started_seconds)
    try:
        t0 = time.monotonic()
        result = lab_stack.apply_stack(lab, name, plan_dir)
        record(f"{name}: CRDs ({len(result.crds)}) applied and established", result.seconds["crds"])
        record(f"{name}: plan objects ({len(result.applied)}) server-side applied", result.seconds["apply"])
        record(f"{name}: chart objects ({len(result.chart_applied)}) server-side applied", result.seconds["charts"])
        WARNINGS.extend(f"{name}: {a.path}: {w}" for a in result.applied + result.chart_applied for w in a.warnings)
        yield lab, result
    finally:
        if running is None:
            cluster.stop(lab)


def running_lab() -> cluster.Lab | None:
    cur = current_file()
    if cur.is_file():
        lab = cluster.Lab.load(cur)
        if lab.alive():
            return lab
    return None
