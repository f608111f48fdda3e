"""Policy `rbac-least-privilege`: cluster-wide power stays with PlatOps.

Creates one StackValidationPolicy with three rules over the stack's RBAC objects:
1. a ClusterRoleBinding may bind only the PlatOps group (`platopsGroup`) or service
   accounts of `exemptServiceAccountNamespaces` (the platform's own system
   namespaces, whose charts need cluster-wide read access) — no other User, Group or
   ServiceAccount gets a cluster-wide role;
2. a RoleBinding must not hand a `forbiddenClusterRoles` role (cluster-admin, admin,
   edit: they let the holder rewrite NetworkPolicies) to anyone but those subjects;
3. a Role or ClusterRole with a wildcard (`*`) in apiGroups, resources, verbs or
   nonResourceURLs must be bound only to those subjects, and to someone.
The exemptions are config, so the rule itself stays the same for every subject.
"""

from __future__ import annotations

from typing import Any

from ._k8s import StackObject, as_list, get, stack_policy

NAME = "rbac-least-privilege"

DEFAULTS: dict[str, Any] = {
    "platopsGroup": "platops",
    "exemptServiceAccountNamespaces": ["kube-system", "traefik", "cert-manager"],
    "forbiddenClusterRoles": ["cluster-admin", "admin", "edit"],
}
_DESCRIPTIONS = {
    "platopsGroup": "The PlatOps group, the only humans with cluster-wide roles. Default: platops.",
    "exemptServiceAccountNamespaces": "Namespaces whose service accounts may hold cluster-wide roles "
                                      "(the platform's system namespaces).",
    "forbiddenClusterRoles": "ClusterRoles no one but PlatOps may be granted, even per namespace.",
}
_TYPES = {
    "platopsGroup": {"type": "string", "minLength": 1},
    "exemptServiceAccountNamespaces": {"type": "array", "items": {"type": "string"}},
    "forbiddenClusterRoles": {"type": "array", "items": {"type": "string"}},
}
_WILDCARD_FIELDS = ("apiGroups", "resources", "verbs", "nonResourceURLs")


def _trusted(subject: Any, binding_ns: Any, cfg: dict) -> bool:
    kind, name = get(subject, "kind"), get(subject, "name")
    if kind == "Group":
        return name == cfg["platopsGroup"]
    if kind == "ServiceAccount":
        # RoleBinding subjects may omit the namespace: it is then the binding's own.
        return (get(subject, "namespace") or binding_ns) in cfg["exemptServiceAccountNamespaces"]
    return False


def _describe(subject: Any) -> str:
    ns = get(subject, "namespace")
    return f"{get(subject, 'kind')} {(ns + '/') if ns else ''}{get(subject, 'name')}"


def check_rbac(objects: list[StackObject], cfg: dict | None = None) -> list[tuple[str, str]]:
    cfg = {**DEFAULTS, **(cfg or {})}
    problems: list[tuple[str, str]] = []
    bindings = [o for o in objects if o.kind in ("ClusterRoleBinding", "RoleBinding")]
    # (roleRef kind, name, namespace or None) -> whether every binding of it is trusted
    role_use: dict[tuple[str, str, Any], bool] = {}
    for b in bindings:
        ref_kind = get(b.props, "roleRef", "kind")
        ref_name = get(b.props, "roleRef", "name")
        b_ns = b.namespace() if b.kind == "RoleBinding" else None
        subjects = [s for s in as_list(get(b.props, "subjects")) if s is not None]
        untrusted = [s for s in subjects if not _trusted(s, b_ns, cfg)]
        key = (ref_kind, ref_name, b_ns if ref_kind == "Role" else None)
        role_use[key] = role_use.get(key, True) and not untrusted
        if b.kind == "ClusterRoleBinding":
            for s in untrusted:
                problems.append((b.urn, f"binds {_describe(s)} to cluster-wide role {ref_name!r}; "
                                        f"only group {cfg['platopsGroup']!r} (or system service accounts) may"))
        elif ref_kind == "ClusterRole" and ref_name in cfg["forbiddenClusterRoles"]:
            for s in untrusted:
                problems.append((b.urn, f"grants ClusterRole {ref_name!r} to {_describe(s)}; "
                                        "use the AppOps role instead"))
    for role in (o for o in objects if o.kind in ("ClusterRole", "Role")):
        wild = sorted({f for rule in as_list(get(role.props, "rules"))
                       for f in _WILDCARD_FIELDS if "*" in [str(v) for v in as_list(get(rule, f))]})
        if not wild:
            continue
        key = (role.kind, role.name(), role.namespace() if role.kind == "Role" else None)
        if not role_use.get(key, False):
            problems.append((role.urn, f"{role.kind} {role.name()!r} has wildcard rules ({', '.join(wild)}) "
                                       f"and is not bound to {cfg['platopsGroup']!r} only"))
    return problems


POLICY = stack_policy(
    NAME,
    "Only PlatOps (and system service accounts, by config) hold cluster-wide or wildcard roles.",
    check_rbac, DEFAULTS, _DESCRIPTIONS, _TYPES)
