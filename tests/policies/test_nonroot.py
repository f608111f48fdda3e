"""`pods-run-as-non-root` (guardrails/nonroot.py) through the validator the analyzer calls: the
effective runAsNonRoot of every container of every workload kind, runAsUser 0, exemptions."""

from __future__ import annotations

import pytest
from guardrails import nonroot

from tests.policies.helpers import (
    CONTAINER_LISTS,
    WORKLOAD_KINDS,
    good_container,
    good_pod_spec,
    messages,
    namespace,
    pod,
    run_policy,
    workload,
)


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_non_root_passes_compliant_workload_of_every_kind(kind):
    assert run_policy(nonroot.POLICY, workload(kind)) == []


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
@pytest.mark.parametrize("list_name", CONTAINER_LISTS)
def test_non_root_rejects_root_container_in_any_list_and_kind(kind, list_name):
    spec = good_pod_spec()
    del spec["securityContext"]["runAsNonRoot"]
    spec.setdefault(list_name, []).append(good_container("rooty"))
    for c in spec["containers"] + spec["initContainers"]:
        if c["name"] != "rooty":
            c["securityContext"]["runAsNonRoot"] = True
    found = messages(run_policy(nonroot.POLICY, workload(kind, spec)))
    assert len(found) == 1 and f"{list_name}[" in found[0] and "'rooty'" in found[0], found


def test_non_root_container_level_wins_and_run_as_user_zero_fails():
    spec = good_pod_spec()
    spec["securityContext"] = {"seccompProfile": {"type": "RuntimeDefault"}}
    for c in spec["containers"] + spec["initContainers"]:
        c["securityContext"]["runAsNonRoot"] = True
    assert run_policy(nonroot.POLICY, pod(spec)) == []
    spec["containers"][0]["securityContext"]["runAsUser"] = 0
    found = messages(run_policy(nonroot.POLICY, pod(spec)))
    assert len(found) == 1 and "runAsUser is 0" in found[0]


def test_non_root_rejects_container_false_over_pod_true():
    p = pod()
    p["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] = False
    assert "runAsNonRoot is false" in messages(run_policy(nonroot.POLICY, p))[0]


def test_non_root_ignores_non_workloads_and_exempt_namespaces():
    assert run_policy(nonroot.POLICY, namespace("team-a")) == []
    spec = good_pod_spec()
    spec["securityContext"] = {}
    assert run_policy(nonroot.POLICY, pod(spec), {"exemptNamespaces": ["team-a"]}) == []
    assert run_policy(nonroot.POLICY, pod(spec)) != []
