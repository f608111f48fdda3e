"""RBAC personas as intent: the PlatOps and AppOps objects, built from small helpers.

What this module creates (plain wire-form dicts):

- ``platops_cluster_role_binding(group)``: ClusterRoleBinding ``platops-cluster-admin``
  giving the PlatOps group the built-in ``cluster-admin`` ClusterRole everywhere.
- ``appops_cluster_role()``: the one ClusterRole ``appops`` shared by all tenants. It holds
  only namespaced resources, so it grants nothing until a RoleBinding places it in a
  namespace, and then only there.
- ``appops_role_binding(namespace, group)``: RoleBinding ``appops`` in a tenant namespace
  giving that tenant's group the ``appops`` ClusterRole.
- ``person_platops_binding(person)`` / ``person_appops_binding(namespace, person)``: the same
  grants to one person of ``people`` (a ``User`` subject: the CN of their client certificate),
  one binding per person so that removing the person removes exactly their access.

Why our own role instead of the built-in ``edit``: ``edit`` lets its holders change
NetworkPolicies (and aggregates whatever later CRDs add), so a tenant could undo its own
isolation. ``appops`` lists every grant explicitly: no wildcard verbs, resources or groups;
no ``escalate``, ``bind`` or ``impersonate``; no write on any RBAC object.

Workload decision: Deployments, StatefulSets, Jobs and CronJobs are read/write; DaemonSets
are not granted. A DaemonSet runs one pod per node, so its cost follows the node count, not
the tenant's need, and per-node agents (logs, metrics, CNI) are a platform concern that
PlatOps owns. ReplicaSets are read-only: Deployments manage them, AppOps only needs to
see them for ``kubectl rollout status/undo``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "READ",
    "WRITE",
    "READ_WRITE",
    "rule",
    "allow_read",
    "allow_read_write",
    "group_subject",
    "user_subject",
    "cluster_role",
    "bind",
    "bind_cluster_wide",
    "appops_rules",
    "appops_cluster_role",
    "appops_role_binding",
    "platops_cluster_role_binding",
    "person_platops_binding",
    "person_appops_binding",
    "APPOPS_ROLE",
    "PLATOPS_BINDING",
]

RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"
MANAGED_BY = {"app.kubernetes.io/managed-by": "pulumi"}

APPOPS_ROLE = "appops"
APPOPS_BINDING = "appops"
PLATOPS_BINDING = "platops-cluster-admin"
CLUSTER_ADMIN = "cluster-admin"

READ: tuple[str, ...] = ("get", "list", "watch")
WRITE: tuple[str, ...] = ("create", "update", "patch", "delete", "deletecollection")
READ_WRITE: tuple[str, ...] = READ + WRITE


# --- small helpers ---------------------------------------------------------------------------


def rule(api_group: str, resources: Sequence[str], verbs: Sequence[str]) -> dict:
    """One PolicyRule for a single API group ("" is the core group)."""
    if not resources or not verbs:
        raise ValueError("rule: resources and verbs must not be empty")
    return {"apiGroups": [api_group], "resources": list(resources), "verbs": list(verbs)}


def allow_read(api_group: str, *resources: str) -> dict:
    """get/list/watch on the given resources of one API group."""
    return rule(api_group, resources, READ)


def allow_read_write(api_group: str, *resources: str) -> dict:
    """get/list/watch plus create/update/patch/delete/deletecollection."""
    return rule(api_group, resources, READ_WRITE)


def group_subject(name: str) -> dict:
    """An RBAC subject for a group of the identity provider."""
    if not name:
        raise ValueError("group: must not be empty")
    return {"kind": "Group", "apiGroup": RBAC_GROUP, "name": name}


def user_subject(name: str) -> dict:
    """An RBAC subject for one user: the CN of their client certificate."""
    if not name:
        raise ValueError("user: must not be empty")
    return {"kind": "User", "apiGroup": RBAC_GROUP, "name": name}


def cluster_role(name: str, rules: Iterable[dict]) -> dict:
    """A ClusterRole with the given rules."""
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": dict(MANAGED_BY)},
        "rules": list(rules),
    }


def bind(name: str, namespace: str, cluster_role_name: str, subjects: Sequence[dict]) -> dict:
    """RoleBinding in ``namespace`` granting a ClusterRole there, and only there."""
    if not subjects:
        raise ValueError(f"bind {namespace}/{name}: at least one subject is required")
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": cluster_role_name},
        "subjects": list(subjects),
    }


def bind_cluster_wide(name: str, cluster_role_name: str, subjects: Sequence[dict]) -> dict:
    """ClusterRoleBinding granting a ClusterRole in every namespace and cluster-wide."""
    if not subjects:
        raise ValueError(f"bind_cluster_wide {name}: at least one subject is required")
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": dict(MANAGED_BY)},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": cluster_role_name},
        "subjects": list(subjects),
    }


# --- AppOps ----------------------------------------------------------------------------------


def appops_rules() -> list[dict]:
    """What an application operator may do inside its own namespace."""
    return [
        # Run and configure the app.
        allow_read_write("", "pods", "services", "configmaps", "secrets", "persistentvolumeclaims"),
        allow_read_write("apps", "deployments", "statefulsets"),
        # kubectl scale goes through the scale subresource.
        rule("apps", ["deployments/scale", "statefulsets/scale"], ["get", "update", "patch"]),
        allow_read("apps", "replicasets"),
        allow_read_write("batch", "jobs", "cronjobs"),
        # Debug the app. exec/port-forward: kubectl's POST is authorized as "create";
        # websocket clients open the stream with a GET, authorized as "get".
        # Ref: https://kubernetes.io/docs/reference/access-authn-authz/authorization/#determine-the-request-verb
        rule("", ["pods/log"], ["get"]),
        rule("", ["pods/exec", "pods/portforward"], ["get", "create"]),
        # Publish the app through Traefik with a certificate from the namespace Issuer.
        allow_read_write("traefik.io", "ingressroutes", "middlewares"),
        allow_read_write("cert-manager.io", "certificates"),
        # Read-only: see the guard rails and why a certificate is not ready yet.
        allow_read("cert-manager.io", "issuers", "certificaterequests"),
        allow_read("acme.cert-manager.io", "orders", "challenges"),
        allow_read("networking.k8s.io", "networkpolicies"),
        allow_read("", "resourcequotas", "limitranges", "events"),
        allow_read("events.k8s.io", "events"),
        allow_read(RBAC_GROUP, "roles", "rolebindings"),
    ]


def appops_cluster_role() -> dict:
    """ClusterRole ``appops``; bound per namespace only, never by a ClusterRoleBinding."""
    return cluster_role(APPOPS_ROLE, appops_rules())


def appops_role_binding(namespace: str, group: str) -> dict:
    """RoleBinding ``appops`` in ``namespace`` for the tenant's group (e.g. ``blog-appops``)."""
    return bind(APPOPS_BINDING, namespace, APPOPS_ROLE, [group_subject(group)])


# --- PlatOps ---------------------------------------------------------------------------------


def platops_cluster_role_binding(group: str = "platops") -> dict:
    """ClusterRoleBinding ``platops-cluster-admin``: the PlatOps group gets ``cluster-admin``."""
    return bind_cluster_wide(PLATOPS_BINDING, CLUSTER_ADMIN, [group_subject(group)])


# --- people ----------------------------------------------------------------------------------


def person_platops_binding(person: str) -> dict:
    """ClusterRoleBinding ``platops-<person>``: one PlatOps person gets ``cluster-admin``."""
    return bind_cluster_wide(f"platops-{person}", CLUSTER_ADMIN, [user_subject(person)])


def person_appops_binding(namespace: str, person: str) -> dict:
    """RoleBinding ``appops-<person>`` in ``namespace``: one AppOps person gets ``appops`` there."""
    return bind(f"appops-{person}", namespace, APPOPS_ROLE, [user_subject(person)])
