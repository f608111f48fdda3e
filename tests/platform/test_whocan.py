"""The who-can evaluator: RBAC semantics on small fixtures, then least privilege of the personas.

Part 1 checks the evaluator against the API server's rules (wildcards, resourceNames,
subresources, binding scope, service accounts, non-resource URLs). Part 2 asks it the
questions the issue lists about AppOps and PlatOps, pins AppOps' complete permission set in
a golden file, and shows that widening any rule is caught.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from components.platform import rbac
from tools.imitations.whocan import (
    DEFAULT_CHECKS,
    Authorizer,
    Subject,
    rbac_matrix_markdown,
)

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


# --- Part 1: RBAC semantics ------------------------------------------------------------------


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


# --- Part 2: the personas --------------------------------------------------------------------

TENANTS = {"blog": "blog-appops", "shop": "shop-appops"}
PLATOPS = Subject("Group", "platops")
BLOG_OPS = Subject("Group", "blog-appops")
# A member of the blog team as the API server sees them.
BLOG_DEV = Subject("User", "jane@example.org", groups=("blog-appops",))

WRITE = ("create", "update", "patch", "delete", "deletecollection")
ALL_VERBS = ("get", "list", "watch") + WRITE + ("escalate", "bind", "impersonate", "approve", "sign", "use")
# (api_group, resource, subresource, namespaced): the universe the full sweep asks about.
UNIVERSE = [
    ("", "pods", None, True),
    ("", "pods", "log", True),
    ("", "pods", "exec", True),
    ("", "pods", "portforward", True),
    ("", "pods", "attach", True),
    ("", "pods", "eviction", True),
    ("", "pods", "ephemeralcontainers", True),
    ("", "services", None, True),
    ("", "services", "proxy", True),
    ("", "configmaps", None, True),
    ("", "secrets", None, True),
    ("", "serviceaccounts", None, True),
    ("", "serviceaccounts", "token", True),
    ("", "persistentvolumeclaims", None, True),
    ("", "events", None, True),
    ("", "resourcequotas", None, True),
    ("", "limitranges", None, True),
    ("", "endpoints", None, True),
    ("apps", "deployments", None, True),
    ("apps", "deployments", "scale", True),
    ("apps", "statefulsets", None, True),
    ("apps", "statefulsets", "scale", True),
    ("apps", "daemonsets", None, True),
    ("apps", "replicasets", None, True),
    ("batch", "jobs", None, True),
    ("batch", "cronjobs", None, True),
    ("autoscaling", "horizontalpodautoscalers", None, True),
    ("policy", "poddisruptionbudgets", None, True),
    ("networking.k8s.io", "networkpolicies", None, True),
    ("networking.k8s.io", "ingresses", None, True),
    ("events.k8s.io", "events", None, True),
    ("discovery.k8s.io", "endpointslices", None, True),
    (RBAC, "roles", None, True),
    (RBAC, "rolebindings", None, True),
    # Creating a RoleBinding to a ClusterRole asks for "bind" on clusterroles in the
    # binding's namespace, so this one is asked namespaced too.
    (RBAC, "clusterroles", None, True),
    ("traefik.io", "ingressroutes", None, True),
    ("traefik.io", "middlewares", None, True),
    ("traefik.io", "tlsoptions", None, True),
    ("cert-manager.io", "certificates", None, True),
    ("cert-manager.io", "certificaterequests", None, True),
    ("cert-manager.io", "issuers", None, True),
    ("acme.cert-manager.io", "orders", None, True),
    ("acme.cert-manager.io", "challenges", None, True),
    ("", "nodes", None, False),
    ("", "nodes", "proxy", False),
    ("", "namespaces", None, False),
    ("", "persistentvolumes", None, False),
    ("", "users", None, False),
    ("", "groups", None, False),
    ("", "serviceaccounts", None, False),
    (RBAC, "clusterroles", None, False),
    (RBAC, "clusterrolebindings", None, False),
    (RBAC, "roles", None, False),
    (RBAC, "rolebindings", None, False),
    ("storage.k8s.io", "storageclasses", None, False),
    ("apiextensions.k8s.io", "customresourcedefinitions", None, False),
    ("cert-manager.io", "clusterissuers", None, False),
    ("certificates.k8s.io", "certificatesigningrequests", None, False),
    ("certificates.k8s.io", "signers", None, False),
    ("policy", "podsecuritypolicies", None, False),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", None, False),
]


def program_objects(appops_role=None) -> list[dict]:
    return [
        rbac.platops_cluster_role_binding("platops"),
        appops_role or rbac.appops_cluster_role(),
        *(rbac.appops_role_binding(ns, grp) for ns, grp in TENANTS.items()),
    ]


def sweep(auth: Authorizer, subject: Subject, namespace: str) -> list[str]:
    """Every request of the universe the subject may make, as sorted `verb group/resource[/sub] @scope` lines."""
    lines = []
    for api_group, resource, sub, namespaced in UNIVERSE:
        scope = namespace if namespaced else None
        for verb in ALL_VERBS:
            if auth.allowed(subject, verb, resource, namespace=scope, api_group=api_group, subresource=sub):
                path = f"{api_group or 'core'}/{resource}" + (f"/{sub}" if sub else "")
                lines.append(f"{verb} {path} @{scope or 'cluster'}")
    return sorted(lines)


def least_privilege_violations(objects: list[dict]) -> list[str]:
    """What the issue forbids AppOps of blog; empty when the RBAC objects are right."""
    auth = Authorizer(objects)
    found = []
    for subject in (BLOG_OPS, BLOG_DEV):
        for verb, api_group, resource, sub, ns in (
            # Nothing at all in the other tenant.
            *((v, g, r, s, "shop") for g, r, s, n in UNIVERSE if n for v in ALL_VERBS),
            # Guard rails: read-only everywhere.
            *((v, g, r, None, ns) for g, r in (("networking.k8s.io", "networkpolicies"), ("", "resourcequotas"), ("", "limitranges")) for v in WRITE for ns in ("blog", "shop", None)),
            # No write on any RBAC object, no escalate/bind/impersonate.
            *((v, RBAC, r, None, ns) for r in ("roles", "rolebindings", "clusterroles", "clusterrolebindings") for v in WRITE + ("escalate", "bind", "*") for ns in ("blog", "shop", None)),
            *(("impersonate", "", r, None, ns) for r in ("users", "groups", "serviceaccounts") for ns in ("blog", None)),
            # No special verbs on anything, even in its own namespace.
            *((v, g, r, s, "blog") for g, r, s, n in UNIVERSE if n for v in ("escalate", "bind", "impersonate", "approve", "sign", "use")),
            # Nothing cluster-scoped.
            *((v, g, r, s, None) for g, r, s, n in UNIVERSE if not n for v in ALL_VERBS),
            # Secrets only in its own namespace.
            *((v, "", "secrets", None, ns) for v in ("get", "list", "watch") for ns in ("shop", "kube-system", "traefik", None)),
        ):
            if auth.allowed(subject, verb, resource, namespace=ns, api_group=api_group, subresource=sub):
                found.append(f"{subject}: {verb} {api_group}/{resource}{'/' + sub if sub else ''} in {ns or 'cluster'}")
    for obj in objects:
        if obj["kind"] == "ClusterRoleBinding":
            for s in obj["subjects"]:
                if s["name"].endswith("-appops"):
                    found.append(f"AppOps group {s['name']} in ClusterRoleBinding {obj['metadata']['name']}")
    return found


def test_appops_can_run_its_app_in_its_namespace():
    auth = Authorizer(program_objects())
    for subject in (BLOG_OPS, BLOG_DEV):
        assert auth.allowed(subject, "create", "deployments", namespace="blog", api_group="apps")
        assert auth.allowed(subject, "patch", "deployments", namespace="blog", api_group="apps", subresource="scale")
        assert auth.allowed(subject, "delete", "pods", namespace="blog")
        assert auth.allowed(subject, "create", "pods", namespace="blog", subresource="exec")
        assert auth.allowed(subject, "create", "pods", namespace="blog", subresource="portforward")
        assert auth.allowed(subject, "get", "pods", namespace="blog", subresource="log")
        assert auth.allowed(subject, "get", "secrets", namespace="blog")
        assert auth.allowed(subject, "create", "ingressroutes", namespace="blog", api_group="traefik.io")
        assert auth.allowed(subject, "create", "certificates", namespace="blog", api_group="cert-manager.io")
        assert auth.allowed(subject, "list", "networkpolicies", namespace="blog", api_group="networking.k8s.io")
        assert auth.allowed(subject, "get", "rolebindings", namespace="blog", api_group=RBAC)


def test_appops_of_one_tenant_cannot_touch_the_other():
    auth = Authorizer(program_objects())
    for verb in ALL_VERBS:
        assert not auth.allowed(BLOG_OPS, verb, "deployments", namespace="shop", api_group="apps")
        assert not auth.allowed(BLOG_OPS, verb, "pods", namespace="shop")
    assert not auth.allowed(BLOG_OPS, "create", "pods", namespace="shop", subresource="exec")


def test_appops_cannot_change_network_policies_or_quotas_anywhere():
    auth = Authorizer(program_objects())
    for ns in ("blog", "shop", None):
        for verb in WRITE:
            assert not auth.allowed(BLOG_OPS, verb, "networkpolicies", namespace=ns, api_group="networking.k8s.io")
            assert not auth.allowed(BLOG_OPS, verb, "resourcequotas", namespace=ns)
            assert not auth.allowed(BLOG_OPS, verb, "limitranges", namespace=ns)


def test_appops_cannot_read_secrets_outside_its_namespace():
    auth = Authorizer(program_objects())
    for ns in ("shop", "kube-system", "traefik", "cert-manager", None):
        assert not auth.allowed(BLOG_OPS, "get", "secrets", namespace=ns)
        assert not auth.allowed(BLOG_OPS, "list", "secrets", namespace=ns)


def test_appops_cannot_create_role_bindings_or_escalate():
    auth = Authorizer(program_objects())
    assert not auth.allowed(BLOG_OPS, "create", "rolebindings", namespace="blog", api_group=RBAC)
    assert not auth.allowed(BLOG_OPS, "escalate", "roles", namespace="blog", api_group=RBAC)
    assert not auth.allowed(BLOG_OPS, "bind", "roles", namespace="blog", api_group=RBAC)
    assert not auth.allowed(BLOG_OPS, "bind", "clusterroles", namespace="blog", api_group=RBAC, name="cluster-admin")
    assert not auth.allowed(BLOG_OPS, "impersonate", "users", namespace=None)
    assert not auth.allowed(BLOG_OPS, "impersonate", "serviceaccounts", namespace="blog")


def test_platops_can_do_all_of_it():
    auth = Authorizer(program_objects())
    for ns in ("blog", "shop"):
        assert auth.allowed(PLATOPS, "create", "deployments", namespace=ns, api_group="apps")
        assert auth.allowed(PLATOPS, "update", "networkpolicies", namespace=ns, api_group="networking.k8s.io")
        assert auth.allowed(PLATOPS, "delete", "resourcequotas", namespace=ns)
        assert auth.allowed(PLATOPS, "get", "secrets", namespace=ns)
        assert auth.allowed(PLATOPS, "create", "rolebindings", namespace=ns, api_group=RBAC)
        assert auth.allowed(PLATOPS, "escalate", "roles", namespace=ns, api_group=RBAC)
    assert auth.allowed(PLATOPS, "bind", "clusterroles", namespace=None, api_group=RBAC)
    assert auth.allowed(PLATOPS, "impersonate", "users", namespace=None)
    assert auth.allowed(PLATOPS, "create", "namespaces", namespace=None)


def test_appops_full_permission_set_matches_golden(golden):
    # Any widening (or narrowing) of the AppOps role changes this list and fails here.
    lines = sweep(Authorizer(program_objects()), BLOG_DEV, "blog")
    assert all(line.endswith("@blog") for line in lines)  # nothing cluster-scoped
    golden("appops_permissions.txt", "\n".join(lines) + "\n")


def test_the_real_objects_have_no_least_privilege_violation():
    assert least_privilege_violations(program_objects()) == []


def _widen(mutate):
    role = copy.deepcopy(rbac.appops_cluster_role())
    mutate(role["rules"])
    return program_objects(role)


WIDENINGS = {
    "star verb on pods": lambda rules: rules.append({"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}),
    "star resource in core": lambda rules: rules.append({"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}),
    "star api group on roles": lambda rules: rules.append({"apiGroups": ["*"], "resources": ["roles"], "verbs": ["create"]}),
    "write networkpolicies": lambda rules: rules.append({"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["patch"]}),
    "delete quotas": lambda rules: rules.append({"apiGroups": [""], "resources": ["resourcequotas"], "verbs": ["delete"]}),
    "update limitranges": lambda rules: rules.append({"apiGroups": [""], "resources": ["limitranges"], "verbs": ["update"]}),
    "create rolebindings": lambda rules: rules.append({"apiGroups": [RBAC], "resources": ["rolebindings"], "verbs": ["create"]}),
    "escalate roles": lambda rules: rules.append({"apiGroups": [RBAC], "resources": ["roles"], "verbs": ["escalate"]}),
    "bind clusterroles": lambda rules: rules.append({"apiGroups": [RBAC], "resources": ["clusterroles"], "verbs": ["bind"]}),
    "impersonate": lambda rules: rules.append({"apiGroups": [""], "resources": ["users", "serviceaccounts"], "verbs": ["impersonate"]}),
    "extra verb on an existing rbac rule": lambda rules: next(r for r in rules if RBAC in r["apiGroups"])["verbs"].append("update"),
}


GOLDEN_SWEEP = (Path(__file__).resolve().parent / "golden" / "appops_permissions.txt").read_text().splitlines()
# Widenings that are not forbidden as such, but leave the intended permission set.
SILENT_WIDENINGS = {
    "star resource in core": WIDENINGS["star resource in core"],
    "create daemonsets": lambda rules: rules.append({"apiGroups": ["apps"], "resources": ["daemonsets"], "verbs": ["create"]}),
    "attach to pods": lambda rules: next(r for r in rules if "pods/exec" in r["resources"])["resources"].append("pods/attach"),
    "serviceaccount tokens": lambda rules: rules.append({"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}),
}


@pytest.mark.parametrize("name", sorted(set(WIDENINGS) - set(SILENT_WIDENINGS)))
def test_forbidden_widenings_are_named_by_the_least_privilege_check(name):
    assert least_privilege_violations(_widen(WIDENINGS[name]))


@pytest.mark.parametrize("name", sorted(set(WIDENINGS) | set(SILENT_WIDENINGS)))
def test_every_widening_changes_the_golden_permission_set(name):
    mutate = WIDENINGS.get(name) or SILENT_WIDENINGS[name]
    assert sweep(Authorizer(_widen(mutate)), BLOG_DEV, "blog") != GOLDEN_SWEEP


def test_binding_appops_cluster_wide_is_caught():
    objects = program_objects() + [rbac.bind_cluster_wide("oops", "appops", [rbac.group_subject("blog-appops")])]
    violations = least_privilege_violations(objects)
    assert any("shop" in v for v in violations)
    assert any("ClusterRoleBinding oops" in v for v in violations)


def test_binding_appops_in_the_other_tenant_is_caught():
    objects = program_objects() + [rbac.appops_role_binding("shop", "blog-appops")]
    assert any("in shop" in v for v in least_privilege_violations(objects))


# --- the matrix ------------------------------------------------------------------------------

MATRIX_PERSONAS = {"platops": PLATOPS, "blog-appops": BLOG_OPS, "shop-appops": Subject("Group", "shop-appops")}


def test_rbac_matrix_matches_golden(golden):
    golden("rbac.md", rbac_matrix_markdown(program_objects(), personas=MATRIX_PERSONAS, namespaces=list(TENANTS)))


def _table(markdown: str) -> dict[tuple[str, str], dict[str, str]]:
    rows = [line.strip("|").split("|") for line in markdown.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in rows[0]]
    return {
        (cells[0].strip(), cells[1].strip()): dict(zip(header[2:], (c.strip() for c in cells[2:])))
        for cells in rows[1:]
    }


def test_rbac_matrix_shows_the_least_privilege_story():
    table = _table(rbac_matrix_markdown(program_objects(), personas=MATRIX_PERSONAS, namespaces=list(TENANTS)))
    assert len(table) == 6  # 3 personas x 2 namespaces
    assert len(table[("platops", "blog")]) == len(DEFAULT_CHECKS)
    assert set(table[("platops", "blog")].values()) == {"yes"}
    own, other = table[("blog-appops", "blog")], table[("blog-appops", "shop")]
    assert own["create deployments"] == own["get secrets"] == own["create pods/exec"] == "yes"
    for column in ("update networkpolicies", "delete resourcequotas", "create rolebindings", "escalate roles", "list nodes *"):
        assert own[column] == "no", column
    assert set(other.values()) == {"no"}


def test_rbac_matrix_needs_personas_and_namespaces():
    with pytest.raises(ValueError, match="^personas:"):
        rbac_matrix_markdown([], personas={}, namespaces=["a"])
    with pytest.raises(ValueError, match="^namespaces:"):
        rbac_matrix_markdown([], personas=MATRIX_PERSONAS, namespaces=[])
