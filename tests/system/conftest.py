"""Shared helpers for the system-layer tests (Traefik, cert-manager, issuers, routes).

Golden files live in `tests/system/golden/`. After an intended change to a builder, rewrite
them with

    UPDATE_GOLDEN=1 ./run test tests/system

and review the diff before committing.

`stack_run(stack)` runs the real program (`components/stack.py`'s Platform) under Pulumi's
mocks with the stack's real `Pulumi.<stack>.yaml`, and returns every registration the engine
would receive (tools/imitations/harness.py): the system layer is tested as it is wired, not a copy.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from tests.golden import check_golden, to_yaml  # noqa: F401 - re-exported to the tests
from tools.imitations import harness

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


@pytest.fixture
def golden():
    def check(name: str, text: str) -> None:
        check_golden(GOLDEN_DIR / name, text)

    return check


@cache
def stack_run(stack: str) -> harness.StackRun:
    """The system layer of the real program (components/stack.py's Platform) under the
    harness: every registration at or below a `k3s-platform:system:*` component, wherever the
    program wires it (tenants' issuers and routes included). No second wiring to drift."""
    run = harness.run_stack(stack)
    by_urn = {r.urn: r for r in run.registrations}

    def in_system_layer(reg) -> bool:
        while reg is not None:
            if reg.type.startswith("k3s-platform:system:"):
                return True
            reg = by_urn.get(reg.parent)
        return False

    return harness.StackRun(stack, [r for r in run.registrations if in_system_layer(r)], run.outputs)
