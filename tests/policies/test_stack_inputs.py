"""`stack-policy-inputs` (guardrails/stack_inputs.py), through the real analyzer. Stack policies
in the first preview of a new stack: the engine gives each object of a provider that is not
configured yet empty outputs in AnalyzeStack. The pack answers from the inputs `Analyze` saw for
that URN, and never passes an object it saw in neither call."""

from __future__ import annotations

from tools.imitations import policy_runner

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "blog"}}
QUOTA = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": "blog"},
         "spec": {"hard": {"requests.cpu": "1", "requests.memory": "1Gi", "limits.memory": "2Gi", "pods": "5"}}}
LIMITS = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l", "namespace": "blog"},
          "spec": {"limits": [{"type": "Container", "default": {"cpu": "100m", "memory": "64Mi"}}]}}


def resource(obj: dict) -> dict:
    kind = obj["kind"]
    name = obj["metadata"]["name"]
    return {"urn": f"urn:pulumi:dev::k3s-platform::kubernetes:core/v1:{kind}::{name}",
            "type": f"kubernetes:core/v1:{kind}", "name": name, "properties": obj,
            "parent": "", "dependencies": [], "provider": ""}


def quota_findings(resources, unknown):
    found = policy_runner.check_resources(resources, only={"namespace-quota-and-limits"},
                                          outputs_unknown=unknown)
    return [v.message for v in found if v.policy == "namespace-quota-and-limits"]


def test_empty_outputs_are_read_from_the_inputs_analyze_saw():
    objs = [resource(o) for o in (NS, QUOTA, LIMITS)]
    assert quota_findings(objs, {o["urn"] for o in objs}) == []


def test_a_namespace_without_quota_is_still_found_when_outputs_are_empty():
    objs = [resource(NS)]
    messages = quota_findings(objs, {objs[0]["urn"]})
    assert messages == ["namespace 'blog' has no ResourceQuota in this stack",
                        "namespace 'blog' has no LimitRange in this stack"]


def test_an_object_seen_in_neither_call_is_never_passed():
    # A resource whose Analyze carried nothing (empty inputs) and whose outputs are empty.
    ghost = resource(NS) | {"properties": {}}
    messages = quota_findings([ghost], {ghost["urn"]})
    assert messages and all("cannot check it" in m for m in messages)
