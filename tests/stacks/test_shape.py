"""Golden shape of both stacks: how many resources of each type the program registers.

A change here is a change to what `pulumi up` creates; regenerate on purpose with
UPDATE_GOLDEN=1 python -m pytest tests/stacks/test_shape.py and review the diff.
"""

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.golden import check_golden

GOLDEN = Path(__file__).parent / "golden"


def shape(run) -> dict[str, int]:
    return dict(sorted(Counter(r.type for r in run.registrations).items()))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_shape(stack, request):
    run = request.getfixturevalue(f"{stack}_run")
    path = GOLDEN / f"{stack}-shape.json"
    text = json.dumps(shape(run), indent=2) + "\n"
    check_golden(path, text)
