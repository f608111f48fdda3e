"""The engine tier's tests (tests/engine) need the built CLI and plugins and take minutes: the
README's fast test command leaves them out and says so; `./run engine test` (K3SP_ENGINE=1)
runs them, and there a missing part fails instead of skipping.

Tests that need privileges (the host sandbox: a private mount namespace) skip on a runner
without them; the run ends with one line counting them and one line per skipped test, so a CI
log says exactly what did not run (tests/cluster/host_sandbox.py)."""

from __future__ import annotations

import os

ENGINE = os.environ.get("K3SP_ENGINE") == "1"
collect_ignore = [] if ENGINE else ["engine"]


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    return longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr or "")


def privileged_skips(terminalreporter) -> list[tuple[str, str]]:
    """(test id, reason) of each test skipped for want of privileges."""
    from tests.cluster.host_sandbox import SKIP_PREFIX

    out = []
    for report in terminalreporter.stats.get("skipped", []):
        reason = _skip_reason(report).removeprefix("Skipped: ")
        if reason.startswith(SKIP_PREFIX):
            out.append((report.nodeid, reason.removeprefix(SKIP_PREFIX).strip()))
    return out


def pytest_terminal_summary(terminalreporter):
    if not ENGINE:
        terminalreporter.write_line("engine tier (tests/engine) left out: ./run engine test runs it")
    skipped = privileged_skips(terminalreporter)
    if skipped:
        reasons = sorted({reason for _, reason in skipped})
        terminalreporter.write_line(f"privileged tests skipped: {len(skipped)} — {'; '.join(reasons)}")
        for nodeid, _ in skipped:
            terminalreporter.write_line(f"  skipped (privileged): {nodeid}")
    else:
        terminalreporter.write_line("privileged tests skipped: 0")
