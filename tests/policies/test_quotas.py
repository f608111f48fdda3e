"""`namespace-quota-and-limits` (guardrails/quotas.py) through the validator the analyzer calls:
a quota covering the required keys and a LimitRange per namespace, exemptions, auto-named
namespaces, scoped quotas."""

from __future__ import annotations

import pytest
from guardrails import quotas
from guardrails._settings import merged

from tests.policies.helpers import limit_range, messages, namespace, quota, run_policy


def test_quota_passes_with_quota_and_limit_range_and_names_each_gap():
    assert run_policy(quotas.POLICY, [namespace("team-a"), quota("team-a"), limit_range("team-a")]) == []
    found = run_policy(quotas.POLICY, [namespace("team-a"), quota("team-b"), limit_range("team-b")])
    texts = messages(found)
    assert len(found) == 2 and any("ResourceQuota" in t for t in texts) and any("LimitRange" in t for t in texts)
    assert all(urn.endswith("kubernetes:core/v1:Namespace::team-a") for urn, _ in found)


def test_quota_must_cover_required_keys():
    found = messages(run_policy(quotas.POLICY, [namespace("a"), quota("a", {"pods": "5", "cpu": "1"}),
                                                limit_range("a")]))
    assert found == ["namespace 'a': ResourceQuota does not set requests.memory, limits.memory"]


def test_quota_exemptions_come_from_config():
    assert run_policy(quotas.POLICY, [namespace("kube-system", tenant=False)]) == []
    assert run_policy(quotas.POLICY, [namespace("traefik", tenant=False)]) != []
    assert run_policy(quotas.POLICY, [namespace("traefik", tenant=False)],
                      {"exemptNamespaces": ["traefik"]}) == []


def test_quota_matches_by_dependency_when_the_name_is_unknown():
    from guardrails._k8s import StackObject
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE
    ns = StackObject("urn:ns", "kubernetes:core/v1:Namespace",
                     {"kind": "Namespace", "metadata": {"name": UNKNOWN_STRING_VALUE}})
    from pulumi_policy.proxy import unknown_checking_proxy as p
    ns = StackObject(ns.urn, ns.type, p(ns.props))
    q = StackObject("urn:q", "kubernetes:core/v1:ResourceQuota", p({"kind": "ResourceQuota", "metadata": {
        "namespace": UNKNOWN_STRING_VALUE}, "spec": {"hard": {"requests.cpu": "1", "requests.memory": "1Gi",
                                                               "limits.memory": "1Gi", "pods": "1"}}}), ("urn:ns",))
    lr = StackObject("urn:lr", "kubernetes:core/v1:LimitRange",
                     p({"kind": "LimitRange", "metadata": {"namespace": UNKNOWN_STRING_VALUE}}), ("urn:ns",))
    cfg = merged(quotas.SETTINGS)
    assert quotas.check_quotas([ns, q, lr], cfg) == []
    assert len(quotas.check_quotas([ns, StackObject(q.urn, q.type, q.props)], cfg)) == 2


# Issue 16, item 15: rules that were gaps.

@pytest.mark.parametrize("scope", [{"scopes": ["BestEffort"]}, {"scopes": ["Terminating"]},
                                   {"scopeSelector": {"matchExpressions": [
                                       {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}])
def test_quota_scoped_away_from_ordinary_pods_does_not_count(scope):
    q = quota("a")
    q["spec"].update(scope)
    found = messages(run_policy(quotas.POLICY, [namespace("a"), q, limit_range("a")]))
    assert found == ["namespace 'a' has no ResourceQuota in this stack (ResourceQuota 'quota' is scoped, "
                     "so ordinary pods are outside it)"]
