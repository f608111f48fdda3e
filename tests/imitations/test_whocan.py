"""The who-can evaluator against the API server's RBAC rules, on small fixtures: wildcards,
resourceNames, subresources, binding scope, service accounts, non-resource URLs. What it says
of the program's own personas is tests/platform/test_persona_permissions.py.
"""

from __future__ import annotations

import pytest

from tools.imitations.whocan import Authorizer, Subject

RBAC = "rbac.authorization.k8s.io"
ALICE = Subject("User", "alice")


def cluster_role(name, *rules, labels=None, aggregation=None):
    obj = {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": name}, "rules": list(rules)}
    if labels:
        obj["metadata"]["labels"] = labels
    if aggregation:
        obj["aggregationRule"] = {"clusterRoleSelectors": aggregation}
    return obj


def role(name, namespace, *rules):
    return {"apiVersion": f"{RBAC}/v1", "kind": "Role", "metadata": {"name": name, "namespace": namespace}, "rules": list(rules)}


def role_binding(name, namespace, ref_kind, ref_name, *subjects):
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": RBAC, "kind": ref_kind, "name": ref_name},
        "subjects": list(subjects),
    }


def cluster_role_binding(name, ref_name, *subjects):
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": ref_name},
        "subjects": list(subjects),
    }


def user(name):
    return {"kind": "User", "apiGroup": RBAC, "name": name}


def group(name):
    return {"kind": "Group", "apiGroup": RBAC, "name": name}


def rule(groups, resources, verbs, names=None):
    r = {"apiGroups": groups, "resources": resources, "verbs": verbs}
    if names:
        r["resourceNames"] = names
    return r


def test_nothing_is_allowed_without_a_binding():
    auth = Authorizer([cluster_role("reader", rule([""], ["pods"], ["get"]))])
    assert not auth.allowed(ALICE, "get", "pods", namespace="a")


def test_rules_are_additive_across_bindings():
    auth = Authorizer(
        [
            cluster_role("reader", rule([""], ["pods"], ["get"])),
            cluster_role("deleter", rule([""], ["pods"], ["delete"])),
            role_binding("r", "a", "ClusterRole", "reader", user("alice")),
            role_binding("d", "a", "ClusterRole", "deleter", user("alice")),
        ]
    )
    assert auth.allowed(ALICE, "get", "pods", namespace="a")
    assert auth.allowed(ALICE, "delete", "pods", namespace="a")
    assert not auth.allowed(ALICE, "create", "pods", namespace="a")


def test_star_verb_matches_every_verb_but_only_listed_resources():
    auth = Authorizer([cluster_role("r", rule([""], ["pods"], ["*"])), role_binding("b", "a", "ClusterRole", "r", user("alice"))])
    for verb in ("get", "create", "deletecollection", "escalate"):
        assert auth.allowed(ALICE, verb, "pods", namespace="a")
    assert not auth.allowed(ALICE, "get", "secrets", namespace="a")


def test_star_resource_matches_every_resource_and_subresource_of_listed_groups():
    auth = Authorizer([cluster_role("r", rule([""], ["*"], ["get"])), role_binding("b", "a", "ClusterRole", "r", user("alice"))])
    assert auth.allowed(ALICE, "get", "secrets", namespace="a")
    assert auth.allowed(ALICE, "get", "pods", namespace="a", subresource="log")
    assert not auth.allowed(ALICE, "get", "deployments", namespace="a", api_group="apps")
    assert not auth.allowed(ALICE, "delete", "secrets", namespace="a")


def test_star_api_group_matches_every_group():
    auth = Authorizer([cluster_role("r", rule(["*"], ["deployments"], ["get"])), role_binding("b", "a", "ClusterRole", "r", user("alice"))])
    assert auth.allowed(ALICE, "get", "deployments", namespace="a", api_group="apps")
    assert auth.allowed(ALICE, "get", "deployments", namespace="a", api_group="extensions")
    assert not auth.allowed(ALICE, "get", "statefulsets", namespace="a", api_group="apps")


def test_subresource_must_be_named_explicitly():
    auth = Authorizer([cluster_role("r", rule([""], ["pods"], ["get", "create"])), role_binding("b", "a", "ClusterRole", "r", user("alice"))])
    assert auth.allowed(ALICE, "create", "pods", namespace="a")
    assert not auth.allowed(ALICE, "create", "pods", namespace="a", subresource="exec")
    assert not auth.allowed(ALICE, "get", "pods", namespace="a", subresource="log")


def test_subresource_rule_does_not_grant_the_parent():
    auth = Authorizer([cluster_role("r", rule([""], ["pods/exec"], ["create"])), role_binding("b", "a", "ClusterRole", "r", user("alice"))])
    assert auth.allowed(ALICE, "create", "pods", namespace="a", subresource="exec")
    assert not auth.allowed(ALICE, "create", "pods", namespace="a")
    assert not auth.allowed(ALICE, "create", "pods", namespace="a", subresource="attach")


def test_star_slash_subresource_matches_that_subresource_of_any_resource():
    auth = Authorizer([cluster_role("r", rule(["*"], ["*/scale"], ["update"])), role_binding("b", "a", "ClusterRole", "r", user("alice"))])
    assert auth.allowed(ALICE, "update", "deployments", namespace="a", api_group="apps", subresource="scale")
    assert not auth.allowed(ALICE, "update", "deployments", namespace="a", api_group="apps")


def test_resource_names_restrict_to_named_objects_and_never_match_unnamed_requests():
    auth = Authorizer(
        [
            cluster_role("r", rule([""], ["configmaps"], ["get", "update", "list", "create"], names=["app-config"])),
            role_binding("b", "a", "ClusterRole", "r", user("alice")),
        ]
    )
    assert auth.allowed(ALICE, "get", "configmaps", namespace="a", name="app-config")
    assert auth.allowed(ALICE, "update", "configmaps", namespace="a", name="app-config")
    assert not auth.allowed(ALICE, "get", "configmaps", namespace="a", name="other")
    assert not auth.allowed(ALICE, "list", "configmaps", namespace="a")
    assert not auth.allowed(ALICE, "create", "configmaps", namespace="a")


def test_cluster_role_via_role_binding_applies_only_in_that_namespace():
    auth = Authorizer([cluster_role("r", rule([""], ["pods"], ["get"])), role_binding("b", "a", "ClusterRole", "r", user("alice"))])
    assert auth.allowed(ALICE, "get", "pods", namespace="a")
    assert not auth.allowed(ALICE, "get", "pods", namespace="b")
    assert not auth.allowed(ALICE, "get", "pods", namespace=None)  # all-namespaces list


def test_cluster_role_binding_applies_in_every_namespace_and_cluster_wide():
    auth = Authorizer(
        [cluster_role("r", rule([""], ["pods", "nodes"], ["get"])), cluster_role_binding("b", "r", user("alice"))]
    )
    assert auth.allowed(ALICE, "get", "pods", namespace="a")
    assert auth.allowed(ALICE, "get", "pods", namespace="zzz")
    assert auth.allowed(ALICE, "get", "pods", namespace=None)
    assert auth.allowed(ALICE, "get", "nodes", namespace=None)


def test_role_binding_to_a_role_uses_the_role_of_its_own_namespace():
    auth = Authorizer(
        [
            role("r", "a", rule([""], ["secrets"], ["get"])),
            role("r", "b", rule([""], ["pods"], ["get"])),
            role_binding("x", "a", "Role", "r", user("alice")),
        ]
    )
    assert auth.allowed(ALICE, "get", "secrets", namespace="a")
    assert not auth.allowed(ALICE, "get", "pods", namespace="a")
    assert not auth.allowed(ALICE, "get", "pods", namespace="b")


def test_binding_to_a_missing_role_grants_nothing():
    auth = Authorizer([role_binding("x", "a", "ClusterRole", "ghost", user("alice")), cluster_role_binding("y", "ghost", user("alice"))])
    assert not auth.allowed(ALICE, "get", "pods", namespace="a")


def test_group_subjects_and_user_groups():
    auth = Authorizer([cluster_role("r", rule([""], ["pods"], ["get"])), role_binding("b", "a", "ClusterRole", "r", group("devs"))])
    assert auth.allowed(Subject("Group", "devs"), "get", "pods", namespace="a")
    assert auth.allowed(Subject("User", "bob", groups=("devs",)), "get", "pods", namespace="a")
    assert not auth.allowed(Subject("User", "devs"), "get", "pods", namespace="a")  # a user is not a group
    assert not auth.allowed(Subject("Group", "ops"), "get", "pods", namespace="a")


def test_service_account_subjects_match_by_user_name_and_groups():
    sa = {"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}
    auth = Authorizer([cluster_role("r", rule([""], ["pods"], ["get"])), role_binding("b", "a", "ClusterRole", "r", sa)])
    assert auth.allowed(Subject("ServiceAccount", "deployer", "ci"), "get", "pods", namespace="a")
    assert auth.allowed(Subject("User", "system:serviceaccount:ci:deployer"), "get", "pods", namespace="a")
    assert not auth.allowed(Subject("ServiceAccount", "deployer", "other"), "get", "pods", namespace="a")
    assert not auth.allowed(Subject("User", "deployer"), "get", "pods", namespace="a")


def test_service_account_subject_without_namespace_means_the_bindings_namespace():
    auth = Authorizer(
        [cluster_role("r", rule([""], ["pods"], ["get"])), role_binding("b", "a", "ClusterRole", "r", {"kind": "ServiceAccount", "name": "app"})]
    )
    assert auth.allowed(Subject("ServiceAccount", "app", "a"), "get", "pods", namespace="a")
    assert not auth.allowed(Subject("ServiceAccount", "app", "b"), "get", "pods", namespace="a")


def test_service_account_groups_per_namespace_and_all():
    auth = Authorizer(
        [
            cluster_role("r", rule([""], ["pods"], ["get"])),
            cluster_role("w", rule([""], ["pods"], ["create"])),
            role_binding("b", "a", "ClusterRole", "r", group("system:serviceaccounts:ci")),
            cluster_role_binding("c", "w", group("system:serviceaccounts")),
        ]
    )
    ci_sa = Subject("ServiceAccount", "deployer", "ci")
    as_user = Subject("User", "system:serviceaccount:ci:deployer")
    other_sa = Subject("ServiceAccount", "deployer", "other")
    assert auth.allowed(ci_sa, "get", "pods", namespace="a")
    assert auth.allowed(as_user, "get", "pods", namespace="a")
    assert not auth.allowed(other_sa, "get", "pods", namespace="a")
    assert auth.allowed(other_sa, "create", "pods", namespace="a")  # every SA is in system:serviceaccounts
    assert not auth.allowed(ALICE, "create", "pods", namespace="a")


def test_every_subject_is_in_system_authenticated():
    auth = Authorizer([cluster_role("r", rule([""], ["pods"], ["get"])), cluster_role_binding("b", "r", group("system:authenticated"))])
    assert auth.allowed(ALICE, "get", "pods", namespace="a")
    assert auth.allowed(Subject("ServiceAccount", "x", "y"), "get", "pods", namespace="a")


def test_built_in_cluster_admin_is_known_and_covers_non_resource_urls():
    auth = Authorizer([cluster_role_binding("admins", "cluster-admin", group("platops"))])
    ops = Subject("Group", "platops")
    assert auth.allowed(ops, "escalate", "clusterroles", namespace=None, api_group=RBAC)
    assert auth.allowed(ops, "create", "pods", namespace="any", subresource="exec")
    assert auth.allowed_url(ops, "get", "/healthz")
    assert not auth.allowed_url(ALICE, "get", "/healthz")


def test_non_resource_urls_match_exactly_or_by_star_prefix_and_only_cluster_wide():
    auth = Authorizer(
        [
            cluster_role("m", {"nonResourceURLs": ["/metrics*", "/healthz"], "verbs": ["get"]}),
            cluster_role_binding("c", "m", user("alice")),
            role_binding("r", "a", "ClusterRole", "m", user("bob")),
        ]
    )
    assert auth.allowed_url(ALICE, "get", "/metrics/cadvisor")
    assert auth.allowed_url(ALICE, "get", "/healthz")
    assert not auth.allowed_url(ALICE, "get", "/healthz/etcd")
    assert not auth.allowed_url(ALICE, "post", "/healthz")
    assert not auth.allowed_url(Subject("User", "bob"), "get", "/healthz")
    # A non-resource rule never grants a resource request.
    assert not auth.allowed(ALICE, "get", "metrics", namespace=None)


def test_aggregated_cluster_role_collects_matching_roles():
    auth = Authorizer(
        [
            cluster_role("agg", aggregation=[{"matchLabels": {"rbac.example/aggregate-to-agg": "true"}}]),
            cluster_role("piece", rule([""], ["pods"], ["get"]), labels={"rbac.example/aggregate-to-agg": "true"}),
            cluster_role("other", rule([""], ["secrets"], ["get"])),
            role_binding("b", "a", "ClusterRole", "agg", user("alice")),
        ]
    )
    assert auth.allowed(ALICE, "get", "pods", namespace="a")
    assert not auth.allowed(ALICE, "get", "secrets", namespace="a")


def test_reasons_name_the_granting_binding():
    auth = Authorizer([cluster_role("r", rule([""], ["pods"], ["get"])), role_binding("b", "a", "ClusterRole", "r", user("alice"))])
    assert auth.reasons(ALICE, "get", "pods", namespace="a") == ["RoleBinding a/b -> ClusterRole r"]
    assert auth.reasons(ALICE, "get", "pods", namespace="b") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Robot", "x"), "subject.kind"),
        (("User", ""), "subject.name"),
        (("ServiceAccount", "x"), "subject.namespace"),
    ],
)
def test_invalid_subjects_are_rejected_naming_the_field(args, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        Subject(*args)


def test_non_rbac_objects_are_ignored():
    auth = Authorizer([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}])
    assert not auth.allowed(ALICE, "get", "pods", namespace="a")
