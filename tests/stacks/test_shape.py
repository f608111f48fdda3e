"""Golden shape of both stacks: how many resources of each type the program registers.

A change here is a change to what `pulumi up` creates; regenerate on purpose with
UPDATE_GOLDEN=1 python -m pytest tests/stacks/test_shape.py and review the diff.
"""

import json
import os
from collections import Counter
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"


def shape(run) -> dict[str, int]:
    return dict(sorted(Counter(r.type for r in run.registrations).items()))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_shape(stack, request):
    run = request.getfixturevalue(f"{stack}_run")
    path = GOLDEN / f"{stack}-shape.json"
    text = json.dumps(shape(run), indent=2) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.read_text() == text, f"{path} differs; rerun with UPDATE_GOLDEN=1 if intended"
