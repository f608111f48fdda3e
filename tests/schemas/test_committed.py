"""The committed crd-schemas/ as the plan uses them, offline: they follow the pinned chart
versions, every file is the one the generator recorded, and each way a lookup can go wrong
is an error that says how to fix it."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from tools.imitations import schemas
from tools.imitations.schemas import CRD_CHARTS, CRD_SCHEMAS, INDEX_NAME

INDEX = json.loads((CRD_SCHEMAS / INDEX_NAME).read_text())
MIDDLEWARE = {"apiVersion": "traefik.io/v1alpha1", "kind": "Middleware",
              "metadata": {"name": "headers", "namespace": "traefik"},
              "spec": {"headers": {"stsSeconds": 31536000}}}


def test_index_follows_the_pinned_charts():
    assert [(c["chart"], c["version"], c["repository"]) for c in INDEX["charts"]] == [
        (pin.chart, pin.version, pin.repo) for pin, _ in CRD_CHARTS]
    assert schemas.catalog().problem is None


def test_every_file_is_the_one_the_generator_recorded_and_none_is_extra():
    recorded = {s["file"]: s["sha256"] for c in INDEX["charts"] for s in c["schemas"]}
    present = {p.relative_to(CRD_SCHEMAS).as_posix() for p in CRD_SCHEMAS.rglob("*.json")} - {INDEX_NAME}
    assert present == set(recorded)
    for name, sha256 in recorded.items():
        assert hashlib.sha256((CRD_SCHEMAS / name).read_bytes()).hexdigest() == sha256, name


def test_the_kinds_the_program_emits_are_there():
    kinds = {(s["apiVersion"], s["kind"]) for c in INDEX["charts"] for s in c["schemas"]}
    assert {("traefik.io/v1alpha1", k) for k in ("IngressRoute", "Middleware", "TLSOption")} <= kinds
    assert {("cert-manager.io/v1", k) for k in ("Issuer", "Certificate")} <= kinds


def test_a_custom_resource_is_validated_against_its_schema():
    assert schemas.validate(MIDDLEWARE, "v1.34") == []
    bad = {**MIDDLEWARE, "spec": {"headers": {"stsSecond": 1}}}
    assert schemas.validate(bad, "v1.34") == [
        "Middleware/traefik/headers: spec.headers: Additional properties are not allowed ('stsSecond' was unexpected)"]


def test_an_unknown_kind_is_an_error():
    widget = {**MIDDLEWARE, "kind": "Widget"}
    [problem] = schemas.validate(widget, "v1.34")
    assert "no schema for traefik.io/v1alpha1 Widget" in problem and "./run schemas" in problem
    hub = {**MIDDLEWARE, "apiVersion": "hub.traefik.io/v1alpha1", "kind": "API"}
    assert schemas.validate(hub, "v1.34") == ["API/traefik/headers: unknown kind hub.traefik.io/v1alpha1 API for Kubernetes 1.34.0"]


@pytest.fixture
def copy(tmp_path):
    folder = tmp_path / "crd-schemas"
    shutil.copytree(CRD_SCHEMAS, folder)
    return folder


def test_a_chart_bumped_without_regenerating_is_an_error(copy):
    index = json.loads((copy / INDEX_NAME).read_text())
    index["charts"][0]["version"] = "40.0.0"
    (copy / INDEX_NAME).write_text(json.dumps(index))
    [problem] = schemas.validate(MIDDLEWARE, "v1.34", copy)
    assert "has traefik 40.0.0 but components/system pins traefik 41.3.0" in problem
    assert "./run schemas" in problem


def test_a_hand_edited_schema_is_an_error(copy):
    path = copy / "traefik.io" / "middleware-v1alpha1.json"
    path.write_text(path.read_text().replace('"stsSeconds"', '"stsSecondz"'))
    [problem] = schemas.validate(MIDDLEWARE, "v1.34", copy)
    assert "is not the file ./run schemas wrote" in problem


def test_a_missing_index_is_an_error(copy):
    (copy / INDEX_NAME).unlink()
    [problem] = schemas.validate(MIDDLEWARE, "v1.34", copy)
    assert f"{INDEX_NAME} is missing" in problem and "./run schemas" in problem
