"""`container-resources` (guardrails/resources.py) through the validator the analyzer calls:
missing requests and limits named, the CPU limit only when configured, no zero quantities."""

from __future__ import annotations

import pytest
from guardrails import resources

from tests.policies.helpers import WORKLOAD_KINDS, good_pod_spec, messages, pod, run_policy, workload


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_resources_pass_and_fail_naming_what_is_missing(kind):
    assert run_policy(resources.POLICY, workload(kind)) == []
    spec = good_pod_spec()
    del spec["initContainers"][0]["resources"]["limits"]
    found = messages(run_policy(resources.POLICY, workload(kind, spec)))
    assert len(found) == 1 and "initContainers[0]" in found[0] and "limits.memory" in found[0]
    assert "requests.cpu" not in found[0]


def test_resources_cpu_limit_only_when_configured():
    assert run_policy(resources.POLICY, pod(), {"requireCpuLimit": True}) != []
    assert run_policy(resources.POLICY, pod()) == []


# Issue 16, item 15: rules that were gaps.

@pytest.mark.parametrize("group,res,value", [("requests", "cpu", "0"), ("requests", "memory", 0),
                                             ("limits", "memory", "0Mi"), ("requests", "cpu", "0.0m")])
def test_resources_refuse_zero(group, res, value):
    spec = good_pod_spec()
    spec["containers"][0]["resources"][group][res] = value
    found = messages(run_policy(resources.POLICY, workload("Deployment", spec)))
    assert found == [f"spec.template.spec.containers[0] ('app'): resources {group}.{res} set to zero"]
