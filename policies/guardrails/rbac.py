"""Policy `rbac-least-privilege`: cluster-wide power stays with PlatOps.

Creates one StackValidationPolicy with these rules over the stack's RBAC objects:
1. a ClusterRoleBinding may bind only the PlatOps group (`platopsGroup`), the PlatOps
   people (`platopsUsers`: the `platops` entries of the stack's `people`), or service
   accounts of `exemptServiceAccountNamespaces` (the platform's own system
   namespaces, whose charts need cluster-wide read access) — no other User, Group or
   ServiceAccount gets a cluster-wide role. The exemption covers those controllers' own
   roles, never a `forbiddenClusterRoles` role (cluster-admin, admin, edit);
2. a RoleBinding must not hand a `forbiddenClusterRoles` role (they let the holder
   rewrite NetworkPolicies) to anyone but PlatOps;
3. a Role or ClusterRole with a wildcard (`*`) in apiGroups, resources, verbs or
   nonResourceURLs, a `sensitiveVerbs` verb (escalate, bind, impersonate: each a way
   around RBAC) or a `sensitiveResources` resource (nodes/proxy: the kubelet API) must be
   bound only to those subjects, and to someone;
4. read access to `secrets` reaches no one else in a system namespace (k3s's own, the
   exempt ones, or a namespace of the stack without the `tenantLabel` label): tenants read
   their own secrets, never a system one's;
5. no binding grants a role to a `system:` group (system:authenticated,
   system:serviceaccounts, ...: everyone of a kind) unless the role is one of
   `systemGroupRoles`, the discovery roles Kubernetes itself grants them;
6. a ClusterRole aggregated into view (label `rbac.authorization.k8s.io/aggregate-to-view`)
   only reads, and not secrets; one aggregated into edit or admin holds none of rule 3's
   powers — aggregation silently widens every holder of those built-in roles.
The exemptions are config, so the rule itself stays the same for every subject.
"""

from __future__ import annotations

from typing import Any

from ._k8s import StackObject, as_list, get, is_map, stack_policy
from ._settings import Setting

NAME = "rbac-least-privilege"

_NON_EMPTY_STRING = {"type": "string", "minLength": 1}
_STRING_LIST = {"type": "array", "items": {"type": "string"}}
SETTINGS = {
    "platopsGroup": Setting("platops", _NON_EMPTY_STRING,
                            "The PlatOps group, the only humans with cluster-wide roles. Default: platops."),
    "platopsUsers": Setting([], _STRING_LIST,
                            "PlatOps people (User subjects, the CN of their client certificates), who may hold "
                            "cluster-wide roles like the PlatOps group. Default: none."),
    "exemptServiceAccountNamespaces": Setting(["kube-system", "traefik", "cert-manager"], _STRING_LIST,
                                              "Namespaces whose service accounts may hold cluster-wide roles "
                                              "(the platform's system namespaces)."),
    "forbiddenClusterRoles": Setting(["cluster-admin", "admin", "edit"], _STRING_LIST,
                                     "ClusterRoles no one but PlatOps may be granted, even per namespace."),
    "sensitiveVerbs": Setting(["escalate", "bind", "impersonate"], _STRING_LIST,
                              "Verbs that get around RBAC; roles using them are PlatOps-only, like wildcards."),
    "sensitiveResources": Setting(["nodes/proxy"], _STRING_LIST,
                                  "Resources as powerful as a wildcard (PlatOps-only). Default: nodes/proxy."),
    "systemGroupRoles": Setting(["system:basic-user", "system:discovery", "system:public-info-viewer"], _STRING_LIST,
                                "The only roles a system: group (e.g. system:authenticated) may be bound to."),
    "tenantLabel": Setting("k3s-platform/tenant", _NON_EMPTY_STRING,
                           "Namespace label of tenant namespaces, where AppOps may read their own secrets."),
}
_WILDCARD_FIELDS = ("apiGroups", "resources", "verbs", "nonResourceURLs")
_READ_VERBS = {"get", "list", "watch"}
_AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"
_K3S_NAMESPACES = {"kube-system", "kube-public", "kube-node-lease", "default"}


def _trusted(subject: Any, binding_ns: Any, role_name: Any, cfg: dict) -> bool:
    kind, name = get(subject, "kind"), get(subject, "name")
    if kind == "Group":
        return name == cfg["platopsGroup"]
    if kind == "User":
        return name in cfg["platopsUsers"]
    if kind == "ServiceAccount":
        # RoleBinding subjects may omit the namespace: it is then the binding's own.
        # A system namespace's controllers keep their own roles, not any role.
        return ((get(subject, "namespace") or binding_ns) in cfg["exemptServiceAccountNamespaces"]
                and role_name not in cfg["forbiddenClusterRoles"])
    return False


def _strs(rule: Any, field: str) -> list[str]:
    return [str(v) for v in as_list(get(rule, field))]


def role_powers(rules: Any, cfg: dict) -> list[str]:
    """What makes a role PlatOps-only: wildcards, RBAC-bypassing verbs, sensitive resources."""
    powers: set[str] = set()
    for rule in as_list(rules):
        powers |= {f"wildcard {f}" for f in _WILDCARD_FIELDS if "*" in _strs(rule, f)}
        powers |= {f"verb {v}" for v in _strs(rule, "verbs") if v in cfg["sensitiveVerbs"]}
        powers |= {f"resource {r}" for r in _strs(rule, "resources") if r in cfg["sensitiveResources"]}
    return sorted(powers)


def reads_secrets(rules: Any) -> bool:
    return any(set(_strs(rule, "resources")) & {"secrets", "*"}
               and set(_strs(rule, "apiGroups")) & {"", "*"}
               and set(_strs(rule, "verbs")) & (_READ_VERBS | {"*"})
               for rule in as_list(rules))


def _aggregation_problems(role: StackObject, cfg: dict) -> list[str]:
    labels = get(role.props, "metadata", "labels", default={})
    if role.kind != "ClusterRole" or not is_map(labels):
        return []
    targets = sorted(str(k)[len(_AGGREGATE):] for k in labels.keys()
                     if str(k).startswith(_AGGREGATE) and str(labels[k]) == "true")
    rules = get(role.props, "rules")
    out = []
    if "view" in targets:
        writes = sorted({v for rule in as_list(rules) for v in _strs(rule, "verbs")} - _READ_VERBS)
        if writes or reads_secrets(rules):
            what = f"verbs {', '.join(writes)}" if writes else "secrets"
            out.append(f"ClusterRole {role.name()!r} is aggregated into view but grants {what}; "
                       "view must stay read-only and blind to secrets")
    wide = [t for t in targets if t in ("edit", "admin")]
    powers = role_powers(rules, cfg)
    if wide and powers:
        out.append(f"ClusterRole {role.name()!r} is aggregated into {'/'.join(wide)} and grants "
                   f"{', '.join(powers)}; every holder of {'/'.join(wide)} would gain it")
    return out


def _describe(subject: Any) -> str:
    ns = get(subject, "namespace")
    return f"{get(subject, 'kind')} {(ns + '/') if ns else ''}{get(subject, 'name')}"


def check_rbac(objects: list[StackObject], cfg: dict) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    bindings = [o for o in objects if o.kind in ("ClusterRoleBinding", "RoleBinding")]
    roles = {(o.kind, o.name(), o.namespace() if o.kind == "Role" else None): o
             for o in objects if o.kind in ("ClusterRole", "Role")}
    # Namespaces whose secrets are not a tenant's: k3s's own, the platform's system
    # namespaces, and any namespace of this stack without the tenant label.
    system_namespaces = set(cfg["exemptServiceAccountNamespaces"]) | _K3S_NAMESPACES | {
        o.name() for o in objects if o.kind == "Namespace"
        and not (is_map(get(o.props, "metadata", "labels"))
                 and cfg["tenantLabel"] in get(o.props, "metadata", "labels"))}
    # (roleRef kind, name, namespace or None) -> whether every binding of it is trusted
    role_use: dict[tuple[str, str, Any], bool] = {}
    for b in bindings:
        ref_kind = get(b.props, "roleRef", "kind")
        ref_name = get(b.props, "roleRef", "name")
        b_ns = b.namespace() if b.kind == "RoleBinding" else None
        subjects = [s for s in as_list(get(b.props, "subjects")) if s is not None]
        system_groups = [s for s in subjects if get(s, "kind") == "Group"
                         and str(get(s, "name", default="")).startswith("system:")]
        for s in system_groups:
            if ref_name not in cfg["systemGroupRoles"]:
                problems.append((b.urn, f"grants {ref_kind} {ref_name!r} to {_describe(s)}, i.e. to "
                                        "everyone of that kind; bind a named group instead"))
        untrusted = [s for s in subjects if not _trusted(s, b_ns, ref_name, cfg) and s not in system_groups]
        key = (ref_kind, ref_name, b_ns if ref_kind == "Role" else None)
        role_use[key] = role_use.get(key, True) and not untrusted and not system_groups
        if b.kind == "ClusterRoleBinding":
            for s in untrusted:
                problems.append((b.urn, f"binds {_describe(s)} to cluster-wide role {ref_name!r}; "
                                        f"only group {cfg['platopsGroup']!r}, the platopsUsers (or system controllers, to "
                                        "their own roles) may"))
            continue
        if ref_kind == "ClusterRole" and ref_name in cfg["forbiddenClusterRoles"]:
            for s in untrusted:
                problems.append((b.urn, f"grants ClusterRole {ref_name!r} to {_describe(s)}; "
                                        "use the AppOps role instead"))
            continue
        role = roles.get(key)
        if role is not None and untrusted and b_ns in system_namespaces \
                and reads_secrets(get(role.props, "rules")) and not role_powers(get(role.props, "rules"), cfg):
            for s in untrusted:
                problems.append((b.urn, f"lets {_describe(s)} read secrets of system namespace {b_ns!r}"))
    for key, role in roles.items():
        for message in _aggregation_problems(role, cfg):
            problems.append((role.urn, message))
        powers = role_powers(get(role.props, "rules"), cfg)
        if powers and not role_use.get(key, False):
            problems.append((role.urn, f"{role.kind} {role.name()!r} grants {', '.join(powers)} "
                                       f"and is not bound to {cfg['platopsGroup']!r} only"))
    return problems


POLICY = stack_policy(
    NAME,
    "Only PlatOps (and system controllers, their own roles) hold cluster-wide, wildcard or "
    "RBAC-bypassing roles; no role for system: groups; aggregation never widens view/edit/admin.",
    check_rbac, SETTINGS)
