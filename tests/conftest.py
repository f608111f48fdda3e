"""The engine tier's tests (tests/engine) need the built CLI and plugins and take minutes: the
README's fast test command leaves them out and says so; `./run engine test` (K3SP_ENGINE=1)
runs them, and there a missing part fails instead of skipping."""

from __future__ import annotations

import os

ENGINE = os.environ.get("K3SP_ENGINE") == "1"
collect_ignore = [] if ENGINE else ["engine"]


def pytest_terminal_summary(terminalreporter):
    if not ENGINE:
        terminalreporter.write_line("engine tier (tests/engine) left out: ./run engine test runs it")
