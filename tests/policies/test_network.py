"""`tenant-default-deny` (guardrails/network.py) through the validator the analyzer calls: a
default-deny NetworkPolicy per tenant namespace, and no Service with externalIPs."""

from __future__ import annotations

import pytest
from guardrails import network

from tests.policies.helpers import default_deny, messages, namespace, run_policy


def test_default_deny_required_in_tenant_namespaces_only():
    assert run_policy(network.POLICY, [namespace("team-a"), default_deny("team-a")]) == []
    assert run_policy(network.POLICY, [namespace("traefik", tenant=False)]) == []
    found = run_policy(network.POLICY, [namespace("team-a"), default_deny("team-b")])
    assert len(found) == 1 and "team-a" in found[0][1]


@pytest.mark.parametrize("breaker", [
    lambda s: s.update(podSelector={"matchLabels": {"app": "x"}}),
    lambda s: s.update(policyTypes=["Ingress"]),
    lambda s: s.update(ingress=[{"from": [{"podSelector": {}}]}]),
])
def test_default_deny_shape(breaker):
    np = default_deny("team-a")
    breaker(np["spec"])
    assert run_policy(network.POLICY, [namespace("team-a"), np]) != []


# Issue 16, item 15: rules that were gaps.

def test_service_external_ips_are_refused():
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "grab", "namespace": "team-a"},
           "spec": {"ports": [{"port": 80}], "externalIPs": ["8.8.8.8"]}}
    found = messages(run_policy(network.POLICY, [svc]))
    assert found == ["Service 'grab' sets spec.externalIPs, which can capture traffic to those addresses; "
                     "publish it through Traefik instead"]
    del svc["spec"]["externalIPs"]
    assert run_policy(network.POLICY, [svc]) == []
