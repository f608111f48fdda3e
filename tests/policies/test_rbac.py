"""`rbac-least-privilege` (guardrails/rbac.py) through the validator the analyzer calls: who may
hold cluster-wide, wildcard and RBAC-bypassing roles, system namespaces' secrets, system:
groups, aggregation into view/edit/admin."""

from __future__ import annotations

import pytest
from guardrails import rbac

from tests.policies.helpers import crb, messages, namespace, run_policy


def test_rbac_platops_binding_passes_human_and_tenant_sa_fail():
    platops = crb("platops", [{"kind": "Group", "name": "platops", "apiGroup": "rbac.authorization.k8s.io"}])
    system_sa = crb("traefik", [{"kind": "ServiceAccount", "name": "traefik", "namespace": "traefik"}], "traefik")
    assert run_policy(rbac.POLICY, [platops, system_sa]) == []
    bad = crb("oops", [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"},
                       {"kind": "ServiceAccount", "name": "ci", "namespace": "team-a"}])
    found = messages(run_policy(rbac.POLICY, [bad]))
    assert len(found) == 3 and "User alice" in found[0] and "Group devs" in found[1] and "team-a/ci" in found[2]


def test_rbac_platops_group_comes_from_config():
    b = crb("ops", [{"kind": "Group", "name": "sre"}])
    assert run_policy(rbac.POLICY, [b]) != []
    assert run_policy(rbac.POLICY, [b], {"platopsGroup": "sre"}) == []


def test_rbac_wildcards_only_for_platops():
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "god"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}
    assert run_policy(rbac.POLICY, [role, crb("p", [{"kind": "Group", "name": "platops"}], "god")]) == []
    found = messages(run_policy(rbac.POLICY, [role]))
    assert len(found) == 1 and "wildcard" in found[0]
    appops = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
              "metadata": {"name": "appops", "namespace": "team-a"},
              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "god"},
              "subjects": [{"kind": "Group", "name": "team-a-devs"}]}
    found = messages(run_policy(rbac.POLICY, [role, appops, crb("p", [{"kind": "Group", "name": "platops"}], "god")]))
    assert len(found) == 1 and "wildcard" in found[0]


def test_rbac_rolebinding_to_edit_is_rejected():
    rb = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
          "metadata": {"name": "devs", "namespace": "team-a"},
          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
          "subjects": [{"kind": "Group", "name": "team-a-devs"}]}
    assert "ClusterRole 'edit'" in messages(run_policy(rbac.POLICY, [rb]))[0]
    rb["roleRef"]["name"] = "k3s-platform-appops"
    assert run_policy(rbac.POLICY, [rb]) == []


# Issue 16, item 15: rules that were gaps.

RBAC_API = "rbac.authorization.k8s.io/v1"


def _role(name, rules, kind="ClusterRole", namespace=None, labels=None):
    meta = {"name": name, **({"namespace": namespace} if namespace else {}), **({"labels": labels} if labels else {})}
    return {"apiVersion": RBAC_API, "kind": kind, "metadata": meta, "rules": rules}


def _rb(name, namespace, role, subjects, role_kind="ClusterRole"):
    return {"apiVersion": RBAC_API, "kind": "RoleBinding", "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
            "subjects": subjects}


TEAM = [{"kind": "Group", "name": "team-a-devs"}]
PLATOPS = [{"kind": "Group", "name": "platops"}]


@pytest.mark.parametrize("rule,power", [
    ({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["escalate"]}, "verb escalate"),
    ({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["bind"]}, "verb bind"),
    ({"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]}, "verb impersonate"),
    ({"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]}, "resource nodes/proxy"),
])
def test_rbac_bypassing_rules_are_platops_only_without_any_wildcard(rule, power):
    role = _role("sneaky", [rule])
    found = messages(run_policy(rbac.POLICY, [role, _rb("b", "team-a", "sneaky", TEAM)]))
    assert found == [f"ClusterRole 'sneaky' grants {power} and is not bound to 'platops' only"]
    assert run_policy(rbac.POLICY, [role, crb("p", PLATOPS, "sneaky")]) == []


def test_rbac_secrets_of_a_system_namespace_only_for_trusted_subjects():
    reader = _role("secret-reader", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}])
    found = messages(run_policy(rbac.POLICY, [reader, _rb("r", "kube-system", "secret-reader", TEAM)]))
    assert found == ["lets Group team-a-devs read secrets of system namespace 'kube-system'"]
    # A tenant reads its own namespace's secrets (the AppOps role does).
    assert run_policy(rbac.POLICY, [namespace("team-a"), reader, _rb("r", "team-a", "secret-reader", TEAM)]) == []


@pytest.mark.parametrize("group", ["system:authenticated", "system:serviceaccounts", "system:unauthenticated",
                                   "system:serviceaccounts:team-a"])
def test_rbac_no_role_for_system_groups(group):
    rb = _rb("appops", "team-a", "k3s-platform-appops", [{"kind": "Group", "name": group}])
    found = messages(run_policy(rbac.POLICY, [rb]))
    assert found == [f"grants ClusterRole 'k3s-platform-appops' to Group {group}, i.e. to everyone of that kind; "
                     "bind a named group instead"]
    discovery = crb("discovery", [{"kind": "Group", "name": group}], "system:discovery")
    assert run_policy(rbac.POLICY, [discovery]) == []


def test_rbac_cluster_admin_for_an_exempt_namespace_service_account_is_refused():
    sa = [{"kind": "ServiceAccount", "name": "default", "namespace": "kube-system"}]
    found = messages(run_policy(rbac.POLICY, [crb("oops", sa, "cluster-admin")]))
    assert len(found) == 1 and "ServiceAccount kube-system/default to cluster-wide role 'cluster-admin'" in found[0]
    own = _role("traefik", [{"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch"]}])
    assert run_policy(rbac.POLICY, [own, crb("traefik", sa, "traefik")]) == []


def test_rbac_aggregation_must_not_widen_view_edit_admin():
    agg = "rbac.authorization.k8s.io/aggregate-to-"
    view_writes = _role("v", [{"apiGroups": ["x.io"], "resources": ["things"], "verbs": ["get", "delete"]}],
                        labels={agg + "view": "true"})
    view_secrets = _role("s", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}],
                         labels={agg + "view": "true"})
    edit_escalate = _role("e", [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"],
                                 "verbs": ["escalate"]}], labels={agg + "edit": "true"})
    found = messages(run_policy(rbac.POLICY, [view_writes, view_secrets, edit_escalate,
                                              crb("p", PLATOPS, "e")]))
    assert found == [
        "ClusterRole 'v' is aggregated into view but grants verbs delete; view must stay read-only and blind to secrets",
        "ClusterRole 's' is aggregated into view but grants secrets; view must stay read-only and blind to secrets",
        "ClusterRole 'e' is aggregated into edit and grants verb escalate; every holder of edit would gain it",
    ]
    # cert-manager's own aggregated roles: read for view, certificate writes for edit/admin.
    cm_view = _role("cert-manager-view", [{"apiGroups": ["cert-manager.io"], "resources": ["certificates"],
                                           "verbs": ["get", "list", "watch"]}],
                    labels={agg + "view": "true", agg + "edit": "true", agg + "admin": "true"})
    cm_edit = _role("cert-manager-edit", [{"apiGroups": ["cert-manager.io"], "resources": ["certificates"],
                                           "verbs": ["create", "delete", "patch", "update"]}],
                    labels={agg + "edit": "true", agg + "admin": "true"})
    assert run_policy(rbac.POLICY, [cm_view, cm_edit]) == []
