"""cert-manager's API check runs as a plain Job that every Issuer waits for."""

import pytest

from components.system.api_check import NAME, api_check_objects
from components.system.cert_manager_values import RESOURCES
from tools import schemas

from .conftest import stack_run


def objects():
    return api_check_objects("cert-manager", image_tag="v1.21.1", resources=RESOURCES["startupapicheck"])


def test_objects_validate_and_grant_only_certificate_create():
    objs = objects()
    for obj in objs.values():
        assert schemas.validate(obj, "v1.34") == []
    assert objs["role"]["rules"] == [{"apiGroups": ["cert-manager.io"], "resources": ["certificates"], "verbs": ["create"]}]
    container = objs["job"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "quay.io/jetstack/cert-manager-startupapicheck:v1.21.1"
    assert container["args"][:3] == ["check", "api", "--wait=5m"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_issuer_waits_for_the_api_check_job(stack):
    run = stack_run(stack)
    by_urn = {r.urn: r for r in run.registrations}
    [job] = [r for r in run.registrations if r.type == "kubernetes:batch/v1:Job"]
    assert job.inputs["metadata"]["name"] == NAME
    assert any(by_urn[d].type == "kubernetes:helm.sh/v3:Release" for d in job.dependencies)
    issuers = [r for r in run.registrations if r.type == "kubernetes:cert-manager.io/v1:Issuer"]
    assert issuers
    for issuer in issuers:
        assert job.urn in issuer.dependencies, issuer.name
