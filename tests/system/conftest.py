"""Shared helpers for the system-layer tests (Traefik, cert-manager, issuers, routes).

Golden files live in `tests/system/golden/`. After an intended change to a builder, rewrite
them with

    UPDATE_GOLDEN=1 /work/venv/bin/python -m pytest tests/system

and review the diff before committing.

`stack_run(stack)` runs `tests/system/program.py` (the system layer wired the way the lead
wires it into Platform) under Pulumi's mocks with the stack's real `Pulumi.<stack>.yaml`,
and returns every registration the engine would receive (tools/harness.py).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest
import yaml

from tools import harness

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


def to_yaml(objects) -> str:
    if isinstance(objects, dict):
        objects = [objects]
    return "---\n".join(yaml.safe_dump(o, sort_keys=False, default_flow_style=False) for o in objects)


@pytest.fixture
def golden():
    def check(name: str, text: str) -> None:
        path = GOLDEN_DIR / name
        if os.environ.get("UPDATE_GOLDEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1 and review it"
        assert text == path.read_text(), f"{name} differs from its golden file; if intended, rerun with UPDATE_GOLDEN=1"

    return check


@cache
def stack_run(stack: str) -> harness.StackRun:
    from tests.system.program import system_program

    return harness.run_stack(stack, program=system_program)
