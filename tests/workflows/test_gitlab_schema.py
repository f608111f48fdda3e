"""`.gitlab-ci.yml` validates against GitLab's own CI schema (draft-07), kept outside the
repository as test data: ../shared/schemas/gitlab-ci.json (tests/shared_data.py: skipped with
one line when absent, a failure under K3SP_REQUIRE_SHARED=1). The schema checks shape only;
the names jobs refer to are checked in test_ci_files.py."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from tests.shared_data import shared_path
from tools.paths import ROOT

SCHEMA = shared_path("schemas/gitlab-ci.json", "GitLab's CI JSON schema",
                     "GitLab's app/assets/javascripts/editor/schema/ci.json (see ../shared/schemas/README.md)")


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def errors(validator, doc) -> list[str]:
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in validator.iter_errors(doc))


def test_gitlab_ci_file_is_valid(validator):
    doc = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    assert errors(validator, doc) == []


@pytest.mark.parametrize("breakage", [
    pytest.param(lambda d: d["gate:dev"]["artifacts"].update(expose_as=["not", "a", "string"]), id="expose_as-list"),
    pytest.param(lambda d: d["up:prod"]["rules"][0].update(when="sometimes"), id="unknown-when"),
    pytest.param(lambda d: d["test"].update(scirpt=["./run test"]), id="misspelt-key"),
])
def test_the_schema_catches_a_broken_file(validator, breakage):
    """The check can fail: one wrong key or value in our own file is reported."""
    doc = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    breakage(doc)
    assert errors(validator, doc)
