"""RBAC personas: the objects themselves (golden, schema) and static least-privilege rules.

The who-can behaviour of these objects is proven in test_persona_permissions.py; here we check the
rules as written, so a widened rule fails even before anyone evaluates it.
"""

from __future__ import annotations

import pytest

from components.platform import rbac

from .conftest import to_yaml

WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}
DANGEROUS_VERBS = {"escalate", "bind", "impersonate", "*"}
GUARD_RAILS = {("networking.k8s.io", "networkpolicies"), ("", "resourcequotas"), ("", "limitranges")}
# Cluster-scoped resources AppOps must never be granted (a ClusterRole that names them
# would grant nothing through a RoleBinding, but naming them signals a mistake).
CLUSTER_SCOPED = {
    ("", "nodes"),
    ("", "namespaces"),
    ("", "persistentvolumes"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ("storage.k8s.io", "storageclasses"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("cert-manager.io", "clusterissuers"),
    ("networking.k8s.io", "ingressclasses"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
}


def grants(rules):
    """Flatten rules into (api_group, resource, verb) triples."""
    for rule in rules:
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                for verb in rule["verbs"]:
                    yield group, resource, verb


def program_objects(tenants=(("blog", "blog-appops"), ("shop", "shop-appops")), platops="platops") -> list[dict]:
    return [
        rbac.platops_cluster_role_binding(platops),
        rbac.appops_cluster_role(),
        *(rbac.appops_role_binding(ns, group) for ns, group in tenants),
    ]


# --- golden and schema -----------------------------------------------------------------------


def test_persona_objects_match_golden(golden):
    golden("personas.yaml", to_yaml(program_objects()))


def test_persona_objects_validate_against_the_kubernetes_schema(validate_k8s):
    objects = program_objects()
    assert [o["kind"] for o in objects] == ["ClusterRoleBinding", "ClusterRole", "RoleBinding", "RoleBinding"]
    for obj in objects:
        validate_k8s(obj)


# --- PlatOps ---------------------------------------------------------------------------------


def test_platops_group_is_bound_to_cluster_admin_cluster_wide():
    crb = rbac.platops_cluster_role_binding("infra-team")
    assert crb["metadata"]["name"] == "platops-cluster-admin"
    assert crb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"}
    assert crb["subjects"] == [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "infra-team"}]


def test_platops_group_defaults_to_platops():
    assert rbac.platops_cluster_role_binding()["subjects"][0]["name"] == "platops"


# --- AppOps binding --------------------------------------------------------------------------


def test_appops_is_bound_per_namespace_to_the_tenant_group():
    rb = rbac.appops_role_binding("blog", "blog-appops")
    assert rb["kind"] == "RoleBinding"
    assert rb["metadata"]["name"] == "appops" and rb["metadata"]["namespace"] == "blog"
    assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "appops"}
    assert rb["subjects"] == [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "blog-appops"}]


def test_no_appops_subject_appears_in_any_cluster_role_binding():
    objects = program_objects()
    appops_groups = {s["name"] for o in objects if o["kind"] == "RoleBinding" for s in o["subjects"]}
    assert appops_groups == {"blog-appops", "shop-appops"}
    crb_subjects = {s["name"] for o in objects if o["kind"] == "ClusterRoleBinding" for s in o["subjects"]}
    assert crb_subjects == {"platops"}
    assert not any(o["roleRef"]["name"] == "appops" for o in objects if o["kind"] == "ClusterRoleBinding")


# --- AppOps rules, statically ----------------------------------------------------------------


def test_appops_rules_use_no_wildcards():
    for rule in rbac.appops_rules():
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], rule
            assert not any(item.startswith("*/") for item in rule[field]), rule
        assert "nonResourceURLs" not in rule, rule


def test_appops_has_no_escalate_bind_or_impersonate():
    verbs = {verb for _, _, verb in grants(rbac.appops_rules())}
    assert not verbs & DANGEROUS_VERBS


def test_appops_cannot_write_guard_rails_or_any_rbac_object():
    for group, resource, verb in grants(rbac.appops_rules()):
        if (group, resource) in GUARD_RAILS or group == "rbac.authorization.k8s.io":
            assert verb not in WRITE_VERBS, (group, resource, verb)


def test_appops_can_read_guard_rails_and_rbac_objects():
    granted = set(grants(rbac.appops_rules()))
    for group, resource in GUARD_RAILS | {("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "rolebindings"), ("cert-manager.io", "issuers"), ("", "events")}:
        assert {(group, resource, v) for v in ("get", "list", "watch")} <= granted, (group, resource)


def test_appops_names_nothing_cluster_scoped():
    named = {(g, r) for g, r, _ in grants(rbac.appops_rules())}
    assert not named & CLUSTER_SCOPED


@pytest.mark.parametrize(
    ("group", "resource"),
    [
        ("apps", "deployments"),
        ("apps", "statefulsets"),
        ("", "pods"),
        ("", "services"),
        ("", "configmaps"),
        ("", "secrets"),
        ("", "persistentvolumeclaims"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("traefik.io", "ingressroutes"),
        ("traefik.io", "middlewares"),
        ("cert-manager.io", "certificates"),
    ],
)
def test_appops_reads_and_writes_its_workloads(group, resource):
    granted = set(grants(rbac.appops_rules()))
    assert {(group, resource, v) for v in rbac.READ_WRITE} <= granted


def test_appops_debug_subresources():
    granted = set(grants(rbac.appops_rules()))
    assert ("", "pods/log", "get") in granted
    assert ("", "pods/exec", "create") in granted
    assert ("", "pods/portforward", "create") in granted
    assert not any(r == "pods/attach" or r.startswith("nodes") for _, r, _ in granted)


def test_appops_gets_no_daemonsets():
    # Decision (see personas module docstring): per-node workloads belong to PlatOps.
    assert not any(r.startswith("daemonsets") for _, r, _ in grants(rbac.appops_rules()))


# --- helpers ---------------------------------------------------------------------------------


def test_helpers_build_intent_level_rules():
    assert rbac.allow_read("apps", "deployments") == {
        "apiGroups": ["apps"],
        "resources": ["deployments"],
        "verbs": ["get", "list", "watch"],
    }
    assert rbac.allow_read_write("", "pods")["verbs"] == list(rbac.READ_WRITE)


@pytest.mark.parametrize(
    "call",
    [
        lambda: rbac.bind("appops", "blog", "appops", []),
        lambda: rbac.bind_cluster_wide("x", "cluster-admin", []),
        lambda: rbac.group_subject(""),
        lambda: rbac.rule("", [], ["get"]),
    ],
)
def test_helpers_reject_empty_input(call):
    with pytest.raises(ValueError, match="must not be empty|at least one subject"):
        call()
