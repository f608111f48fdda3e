"""An offline RBAC authorizer and the who-can matrix the offline plan writes to ``rbac.md``.

``Authorizer`` answers "can subject S do verb V on resource R in namespace N" from the
program's own Roles, ClusterRoles, RoleBindings and ClusterRoleBindings (plain wire-form
dicts), following the rules of the API server's RBAC authorizer:

- rules are only additive: a request is allowed if any rule of any binding that applies
  to the subject matches it; there are no deny rules;
- ClusterRoleBindings apply everywhere; a RoleBinding applies only in its own namespace,
  even when it refers to a ClusterRole; a cluster-scoped request (``namespace=None``)
  sees ClusterRoleBindings only;
- ``*`` matches any verb, API group or resource (subresources included); ``pods`` does not
  match ``pods/exec``, while ``*/exec`` does; ``resourceNames`` restricts a rule to named
  objects, so it never matches a request without a name (list, create);
- subjects: User by name; Group by membership; ServiceAccount as the user
  ``system:serviceaccount:<ns>:<name>`` (a RoleBinding's ServiceAccount subject without a
  namespace means the binding's namespace), member of the groups ``system:serviceaccounts``
  and ``system:serviceaccounts:<ns>``; every subject is in ``system:authenticated``;
- non-resource URLs (``/healthz``, ``/metrics*``) are matched only through
  ClusterRoleBindings;
- a binding whose role does not exist grants nothing.

The built-in ``cluster-admin`` ClusterRole (every verb on everything, and every
non-resource URL) is known without being declared, because PlatOps binds to it. Other
built-in roles are not modelled, and aggregated ClusterRoles support ``matchLabels`` only.

Ref: https://kubernetes.io/docs/reference/access-authn-authz/rbac/
Ref: https://github.com/kubernetes/kubernetes/blob/master/pkg/registry/rbac/validation/rule.go (appliesToUser)
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "Subject",
    "Check",
    "Authorizer",
    "DEFAULT_CHECKS",
    "CLUSTER_ADMIN_RULES",
    "rbac_matrix_markdown",
]

RBAC_GROUP = "rbac.authorization.k8s.io"
ALL = "*"
SA_PREFIX = "system:serviceaccount:"
AUTHENTICATED = "system:authenticated"

CLUSTER_ADMIN_RULES: tuple[dict, ...] = (
    {"apiGroups": [ALL], "resources": [ALL], "verbs": [ALL]},
    {"nonResourceURLs": [ALL], "verbs": [ALL]},
)
_BUILTIN_CLUSTER_ROLES = {"cluster-admin": CLUSTER_ADMIN_RULES}
_RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


@dataclass(frozen=True)
class Subject:
    """Who is asking: a User, a Group (any member of it) or a ServiceAccount.

    ``groups`` adds groups a User belongs to. A User named
    ``system:serviceaccount:<ns>:<name>`` is treated as that ServiceAccount.
    """

    kind: str
    name: str
    namespace: str | None = None
    groups: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("User", "Group", "ServiceAccount"):
            raise ValueError(f"subject.kind: {self.kind!r} must be User, Group or ServiceAccount")
        if not self.name:
            raise ValueError("subject.name: must not be empty")
        if self.kind == "ServiceAccount" and not self.namespace:
            raise ValueError(f"subject.namespace: ServiceAccount {self.name!r} needs its namespace")

    def user_info(self) -> tuple[str | None, frozenset[str]]:
        """The (user name, groups) the API server would see after authentication."""
        groups = {AUTHENTICATED, *self.groups}
        if self.kind == "Group":
            return None, frozenset(groups | {self.name})
        username = self.name
        if self.kind == "ServiceAccount":
            username = f"{SA_PREFIX}{self.namespace}:{self.name}"
        if username.startswith(SA_PREFIX):
            parts = username[len(SA_PREFIX) :].split(":")
            if len(parts) == 2 and all(parts):
                groups |= {"system:serviceaccounts", f"system:serviceaccounts:{parts[0]}"}
        return username, frozenset(groups)

    def __str__(self) -> str:
        if self.kind == "ServiceAccount":
            return f"ServiceAccount {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"


def _applies(subject: dict, username: str | None, groups: frozenset[str], binding_ns: str) -> bool:
    """Whether one binding subject covers the asking user (the API server's appliesToUser).

    The rule itself; questions go through the index (``_subject_keys``), which files each
    binding under the names this rule would accept. Tests hold the two to the same answers.
    """
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return username is not None and username == name
    if kind == "Group":
        return name in groups
    if kind == "ServiceAccount":
        sa_ns = subject.get("namespace") or binding_ns
        return bool(sa_ns) and username == f"{SA_PREFIX}{sa_ns}:{name}"
    return False


def _matches(values: Iterable[str], wanted: str) -> bool:
    values = list(values or ())
    return ALL in values or wanted in values


def _resource_matches(rule_resources: Iterable[str], resource: str, subresource: str | None) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for item in rule_resources or ():
        if item in (ALL, combined):
            return True
        if subresource and item == f"*/{subresource}":
            return True
    return False


def _url_matches(rule_urls: Iterable[str], path: str) -> bool:
    for item in rule_urls or ():
        if item == ALL or item == path:
            return True
        if item.endswith("*") and path.startswith(item[:-1]):
            return True
    return False


def _selector_matches(selector: Mapping, labels: Mapping[str, str]) -> bool:
    if selector.get("matchExpressions"):
        raise ValueError("aggregationRule: matchExpressions are not supported by this evaluator; use matchLabels")
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


class Authorizer:
    """Evaluates RBAC requests against a fixed set of RBAC objects (other kinds are ignored)."""

    def __init__(self, objects: Iterable[dict]) -> None:
        self._roles: dict[tuple[str, str], list[dict]] = {}
        self._cluster_roles: dict[str, list[dict]] = {name: list(rules) for name, rules in _BUILTIN_CLUSTER_ROLES.items()}
        self._role_bindings: list[dict] = []
        self._cluster_role_bindings: list[dict] = []
        aggregated: list[dict] = []
        labels_by_role: dict[str, Mapping[str, str]] = {}
        for obj in objects:
            if not isinstance(obj, Mapping) or obj.get("kind") not in _RBAC_KINDS:
                continue
            meta = obj.get("metadata") or {}
            name = meta.get("name")
            if not name:
                raise ValueError(f"{obj.get('kind')}: metadata.name is required")
            kind = obj["kind"]
            if kind == "Role":
                self._roles[(meta.get("namespace") or "default", name)] = list(obj.get("rules") or [])
            elif kind == "ClusterRole":
                self._cluster_roles[name] = list(obj.get("rules") or [])
                labels_by_role[name] = meta.get("labels") or {}
                if obj.get("aggregationRule"):
                    aggregated.append(obj)
            elif kind == "RoleBinding":
                self._role_bindings.append(obj)
            else:
                self._cluster_role_bindings.append(obj)
        self._index_bindings()
        # The controller fills an aggregated ClusterRole with the rules of every
        # ClusterRole its selectors match.
        for obj in aggregated:
            name = obj["metadata"]["name"]
            rules = list(obj.get("rules") or [])
            for selector in obj["aggregationRule"].get("clusterRoleSelectors") or []:
                for other, labels in sorted(labels_by_role.items()):
                    if other != name and _selector_matches(selector, labels):
                        rules.extend(self._cluster_roles[other])
            self._cluster_roles[name] = rules

    # --- the index of bindings by subject -----------------------------------------------------
    #
    # A binding subject matches a request by user name (User; ServiceAccount as the user
    # ``system:serviceaccount:<ns>:<name>``) or by group (Group). Each binding is filed under
    # those keys once, so a question looks up the asker's name and groups instead of scanning
    # every binding: the who-can matrix costs O(rows x checks), not O(rows x bindings).

    def _index_bindings(self) -> None:
        # ClusterRoleBindings: key -> positions in self._cluster_role_bindings.
        self._crb_by_key: dict[tuple[str, str], list[int]] = {}
        # RoleBindings: (namespace, key) -> positions in self._role_bindings.
        self._rb_by_key: dict[tuple[str, tuple[str, str]], list[int]] = {}
        # For reports (bindings_for): every binding, its namespace read as bindings_for does.
        self._any_by_key: dict[tuple[str, str], list[dict]] = {}
        # key -> the namespaces where a RoleBinding filed under it applies.
        self._rb_namespaces: dict[tuple[str, str], set[str]] = {}
        for pos, binding in enumerate(self._cluster_role_bindings):
            for key in _subject_keys(binding, ""):
                _file(self._crb_by_key, key, pos)
                _file(self._any_by_key, key, binding)
        for pos, binding in enumerate(self._role_bindings):
            ns = (binding.get("metadata") or {}).get("namespace")
            for key in _subject_keys(binding, ns or "default"):
                _file(self._rb_by_key, (ns or "default", key), pos)
                self._rb_namespaces.setdefault(key, set()).add(ns or "default")
            for key in _subject_keys(binding, ns or ""):
                _file(self._any_by_key, key, binding)

    def namespaces_binding(self, subject: Subject) -> set[str]:
        """The namespaces in which at least one RoleBinding applies to the subject."""
        found: set[str] = set()
        for key in _asker_keys(*subject.user_info()):
            found |= self._rb_namespaces.get(key, set())
        return found

    # --- rule lookup --------------------------------------------------------------------------

    def _role_rules(self, role_ref: Mapping, binding_ns: str | None) -> list[dict]:
        kind, name = role_ref.get("kind"), role_ref.get("name")
        if not isinstance(name, str):  # a roleRef without a name grants nothing
            return []
        if kind == "ClusterRole":
            return self._cluster_roles.get(name, [])
        if kind == "Role" and binding_ns:
            return self._roles.get((binding_ns, name), [])
        return []

    def _bindings_for(self, subject: Subject, namespace: str | None):
        """Yield (binding, rules) for every binding that covers the subject in this scope."""
        keys = _asker_keys(*subject.user_info())
        for pos in _positions(self._crb_by_key, keys):
            binding = self._cluster_role_bindings[pos]
            yield binding, self._role_rules(binding.get("roleRef") or {}, None)
        if namespace is None:
            return
        for pos in _positions(self._rb_by_key, [(namespace, key) for key in keys]):
            binding = self._role_bindings[pos]
            yield binding, self._role_rules(binding.get("roleRef") or {}, namespace)

    # --- questions ----------------------------------------------------------------------------

    def reasons(
        self,
        subject: Subject,
        verb: str,
        resource: str,
        *,
        namespace: str | None,
        api_group: str = "",
        subresource: str | None = None,
        name: str | None = None,
    ) -> list[str]:
        """The bindings that allow the request, as ``Kind ns/name -> roleRef``; empty if denied."""
        if not verb or not resource:
            raise ValueError("verb and resource must not be empty")
        found = []
        for binding, rules in self._bindings_for(subject, namespace):
            for rule in rules:
                if "nonResourceURLs" in rule and not rule.get("resources"):
                    continue
                if not _matches(rule.get("verbs"), verb):
                    continue
                if not _matches(rule.get("apiGroups"), api_group):
                    continue
                if not _resource_matches(rule.get("resources"), resource, subresource):
                    continue
                names = rule.get("resourceNames") or []
                if names and name not in names:
                    continue
                found.append(_describe(binding))
                break
        return found

    def allowed(
        self,
        subject: Subject,
        verb: str,
        resource: str,
        *,
        namespace: str | None,
        api_group: str = "",
        subresource: str | None = None,
        name: str | None = None,
    ) -> bool:
        """True if the API server's RBAC authorizer would allow this resource request."""
        return bool(
            self.reasons(
                subject, verb, resource, namespace=namespace, api_group=api_group, subresource=subresource, name=name
            )
        )

    def allowed_url(self, subject: Subject, verb: str, path: str) -> bool:
        """True if a non-resource request (``get /healthz``) is allowed; ClusterRoleBindings only."""
        for _binding, rules in self._bindings_for(subject, None):
            for rule in rules:
                if _matches(rule.get("verbs"), verb) and _url_matches(rule.get("nonResourceURLs"), path):
                    return True
        return False

    def bindings_for(self, subject: Subject) -> list[str]:
        """Every binding, in any namespace, that names this subject (for reports)."""
        found: dict[int, dict] = {}
        for key in _asker_keys(*subject.user_info()):
            for binding in self._any_by_key.get(key, ()):
                found[id(binding)] = binding
        return sorted(_describe(binding) for binding in found.values())


def _subject_keys(binding: Mapping, binding_ns: str) -> set[tuple[str, str]]:
    """The index keys under which a binding applies: ("user", name) or ("group", name).

    Mirrors ``_applies``: a ServiceAccount subject is the user
    ``system:serviceaccount:<ns>:<name>``, its namespace defaulting to the binding's; without
    either it matches no one. Subjects of other kinds match no one.
    """
    keys = set()
    for s in binding.get("subjects") or []:
        kind, name = s.get("kind"), s.get("name")
        if kind == "User" and name is not None:
            keys.add(("user", name))
        elif kind == "Group":
            keys.add(("group", name))
        elif kind == "ServiceAccount":
            sa_ns = s.get("namespace") or binding_ns
            if sa_ns:
                keys.add(("user", f"{SA_PREFIX}{sa_ns}:{name}"))
    return keys


def _asker_keys(username: str | None, groups: frozenset[str]) -> list[tuple[str, str]]:
    """The index keys of an asking user: its name and each of its groups."""
    keys = [("group", g) for g in sorted(groups)]
    return ([("user", username)] if username is not None else []) + keys


def _file(index: dict, key, value) -> None:
    index.setdefault(key, []).append(value)


def _positions(index: dict, keys) -> list[int]:
    """Positions of the bindings filed under any of `keys`, in declaration order, once each."""
    found: set[int] = set()
    for key in keys:
        found.update(index.get(key, ()))
    return sorted(found)


def _describe(binding: Mapping) -> str:
    meta = binding.get("metadata") or {}
    ref = binding.get("roleRef") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{binding['kind']} {where}{meta.get('name')} -> {ref.get('kind')} {ref.get('name')}"


# --- the matrix ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One column of the matrix: a verb on a resource, namespaced or cluster-scoped."""

    label: str
    verb: str
    resource: str
    api_group: str = ""
    subresource: str | None = None
    cluster_scoped: bool = False


DEFAULT_CHECKS: tuple[Check, ...] = (
    Check("create deployments", "create", "deployments", "apps"),
    Check("get pods/log", "get", "pods", subresource="log"),
    Check("create pods/exec", "create", "pods", subresource="exec"),
    Check("get secrets", "get", "secrets"),
    Check("create ingressroutes", "create", "ingressroutes", "traefik.io"),
    Check("create certificates", "create", "certificates", "cert-manager.io"),
    Check("get networkpolicies", "get", "networkpolicies", "networking.k8s.io"),
    Check("update networkpolicies", "update", "networkpolicies", "networking.k8s.io"),
    Check("delete resourcequotas", "delete", "resourcequotas"),
    Check("update limitranges", "update", "limitranges"),
    Check("create daemonsets", "create", "daemonsets", "apps"),
    Check("create rolebindings", "create", "rolebindings", RBAC_GROUP),
    Check("escalate roles", "escalate", "roles", RBAC_GROUP),
    Check("bind clusterroles", "bind", "clusterroles", RBAC_GROUP),
    Check("impersonate users", "impersonate", "users", cluster_scoped=True),
    Check("list nodes", "list", "nodes", cluster_scoped=True),
    Check("create namespaces", "create", "namespaces", cluster_scoped=True),
)


def rbac_matrix_markdown(
    objects: Iterable[dict],
    *,
    personas: Mapping[str, Subject],
    namespaces: Sequence[str],
    checks: Sequence[Check] = DEFAULT_CHECKS,
) -> str:
    """A markdown who-can table: one row per persona and namespace, one column per check.

    Cluster-scoped checks are asked without a namespace, so they read the same on every row
    of a persona. Below the table, each persona's bindings are listed.
    """
    if not personas:
        raise ValueError("personas: at least one persona is required")
    if not namespaces:
        raise ValueError("namespaces: at least one namespace is required")
    authorizer = Authorizer(objects)
    lines = [
        "# RBAC who-can matrix",
        "",
        "Computed offline from the program's Roles, ClusterRoles and bindings, with the",
        "API server's RBAC rules (additive; wildcards; subresources; a RoleBinding applies",
        "only in its namespace). `yes` = allowed, `no` = denied.",
        "Cluster-scoped checks (marked *) are asked without a namespace.",
        "",
    ]
    header = ["persona", "namespace"] + [f"{c.label}{' *' if c.cluster_scoped else ''}" for c in checks]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] * len(header)) + "|")
    def answers(subject: Subject, ns: str) -> str:
        cells = []
        for c in checks:
            ok = authorizer.allowed(
                subject,
                c.verb,
                c.resource,
                namespace=None if c.cluster_scoped else ns,
                api_group=c.api_group,
                subresource=c.subresource,
            )
            cells.append("yes" if ok else "no")
        return " | ".join(cells) + " |"

    # The table has a row per persona and namespace (a million at 1,000 tenants): written
    # into one buffer rather than kept as a list of lines.
    text = io.StringIO()
    text.write("\n".join(lines) + "\n")
    for persona, subject in personas.items():
        # In a namespace where none of its RoleBindings applies, a subject is answered by its
        # ClusterRoleBindings alone: the same row everywhere, computed once. Only the
        # namespaces it is bound in are asked one by one.
        bound_in = authorizer.namespaces_binding(subject)
        elsewhere = None
        for ns in namespaces:
            if ns in bound_in:
                row = answers(subject, ns)
            else:
                if elsewhere is None:
                    elsewhere = answers(subject, ns)
                row = elsewhere
            text.write(f"| {persona} | {ns} | {row}\n")
    text.write("\n## Personas\n\n")
    for persona, subject in personas.items():
        bound = authorizer.bindings_for(subject)
        text.write(f"- **{persona}** ({subject}): "
                   + ("; ".join(f"`{b}`" for b in bound) if bound else "no bindings") + "\n")
    return text.getvalue()
