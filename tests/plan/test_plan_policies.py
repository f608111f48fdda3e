"""The plan runs the policy pack as `pulumi preview --policy-pack` would, and fails on a
mandatory violation, naming each."""

import pulumi

from components import kube
from tools.plan.build import build_plan


def bad_program():
    opts = pulumi.ResourceOptions()
    kube.apply("rogue-ns", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "rogue"}}, opts)
    kube.apply("root-pod", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root", "namespace": "rogue"},
        "spec": {"securityContext": {"runAsUser": 0},
                 "containers": [{"name": "app", "image": "nginx:latest",
                                 "resources": {"requests": {"cpu": "10m", "memory": "16Mi"},
                                               "limits": {"memory": "32Mi"}}}]},
    }, opts)


def test_both_stacks_have_no_violation():
    for stack in ("dev", "prod"):
        plan = build_plan(stack)
        assert plan.violations == [], plan.violations
        assert not plan.failed


def test_bad_stack_fails_naming_each_violation():
    plan = build_plan("prod", program=bad_program)
    assert plan.failed
    by_policy = {v["policy"]: v for v in plan.violations if v["enforcement"] == "mandatory"}
    assert by_policy["pods-run-as-non-root"]["resource"] == "Pod/rogue/root"
    assert by_policy["image-tag-pinned"]["resource"] == "Pod/rogue/root"
    assert "rogue" in by_policy["namespace-quota-and-limits"]["message"]
    assert "pods-run-as-non-root" in plan.summary_text
