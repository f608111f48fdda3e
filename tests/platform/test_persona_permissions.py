"""The personas' permissions as the who-can evaluator (tools/imitations/whocan.py) answers
them: the questions the issue lists about AppOps and PlatOps, AppOps' complete permission set
pinned in a golden file, every widening of a rule caught, and the rbac.md matrix. The
evaluator's own RBAC semantics are tested in tests/imitations/test_whocan.py.
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
