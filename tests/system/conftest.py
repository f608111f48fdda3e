"""Shared helpers for the system-layer tests (Traefik, cert-manager, issuers, routes).

Golden files live in `tests/system/golden/`. After an intended change to a builder, rewrite
them with

    UPDATE_GOLDEN=1 ./run test tests/system

and review the diff before committing.

`stack_run(stack)` runs `tests/system/program.py` (the system layer wired as
components/stack.py wires it) under Pulumi's mocks with the stack's real `Pulumi.<stack>.yaml`,
and returns every registration the engine would receive (tools/harness.py).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from tests.golden import check_golden, to_yaml  # noqa: F401 - re-exported to the tests
from tools import harness

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


@pytest.fixture
def golden():
    def check(name: str, text: str) -> None:
        check_golden(GOLDEN_DIR / name, text)

    return check


@cache
def stack_run(stack: str) -> harness.StackRun:
    from tests.system.program import system_program

    return harness.run_stack(stack, program=system_program)
