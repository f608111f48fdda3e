"""Schema validation reads each Kubernetes schema file once, and still answers as
`kubernetes_validate.validate` does."""

from __future__ import annotations

from collections import Counter

import kubernetes_validate
import kubernetes_validate.utils
import pytest

from tools.imitations import schemas

MINOR = "v1.34"
VERSION = schemas.schema_version(MINOR)


def _config_map(i: int, **extra) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm{i}", "namespace": "a"},
            "data": {"k": "v"}, **extra}


def _role(i: int, **extra) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": f"r{i}", "namespace": "a"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}], **extra}


@pytest.fixture
def reads(monkeypatch):
    """Counts reads of the package's schema files, starting from empty caches."""
    counted: Counter = Counter()
    real = kubernetes_validate.utils.schema_contents

    def counting(filename, version):
        counted[filename.rsplit("/", 1)[-1]] += 1
        return real(filename, version)

    for cached in (schemas._k8s_schema_file, schemas._k8s_validator):
        cached.cache_clear()
    monkeypatch.setattr(kubernetes_validate.utils, "schema_contents", counting)
    yield counted
    for cached in (schemas._k8s_schema_file, schemas._k8s_validator):
        cached.cache_clear()


def test_each_schema_file_is_read_once(reads):
    objects = [_config_map(i) for i in range(50)] + [_role(i) for i in range(50)]
    objects += [_config_map(99, bogus=True), {"apiVersion": "v1", "kind": "Nope", "metadata": {"name": "x"}}] * 3
    problems = schemas.validate_all(objects, MINOR)
    assert len(problems) == 6
    assert reads == {"configmap-v1.json": 1, "role-rbac-v1.json": 1, "_definitions.json": 1, "nope-v1.json": 1}


@pytest.mark.parametrize("obj", [
    _config_map(1),
    _config_map(2, bogus=1),
    _config_map(3, data={"k": 1}),
    _role(1, rules=[{"verbs": "get"}]),
    _role(2, rules=[{"apiGroups": [""], "resources": ["pods"]}]),
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
     "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "c", "image": 3}]}}}},
    {"apiVersion": "v1", "kind": "Nope", "metadata": {"name": "x"}},
])
def test_same_answer_as_kubernetes_validate(obj):
    try:
        kubernetes_validate.validate(obj, VERSION, strict=True)
        want = []
    except kubernetes_validate.SchemaNotFoundError:
        want = [f"{schemas._ref(obj)}: unknown kind {obj['apiVersion']} {obj['kind']} "
                f"for Kubernetes {VERSION}"]
    except kubernetes_validate.ValidationError as err:
        want = [f"{schemas._ref(obj)}: {'.'.join(map(str, err.path)) or '(root)'}: {err.message}"]
    assert schemas.validate(obj, MINOR) == want
