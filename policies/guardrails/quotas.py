"""Policy `namespace-quota-and-limits`: every Namespace the stack creates is bounded.

Creates one StackValidationPolicy: each Namespace object in the stack (except the
`exemptNamespaces`) must have, in the same stack, a ResourceQuota whose `spec.hard`
covers `requiredQuotaKeys` and a LimitRange (defaults for containers that omit them).
Only an unscoped quota counts: one with `scopes` or a `scopeSelector` (BestEffort,
Terminating, a priority class...) leaves ordinary pods outside it.
Namespaces the stack does not create (k3s's own) are never seen and never checked.
"""

from __future__ import annotations

from ._k8s import UNKNOWN, NamespaceIndex, StackObject, get, is_map, stack_policy
from ._settings import Setting

NAME = "namespace-quota-and-limits"

SETTINGS = {
    "exemptNamespaces": Setting(
        ["kube-system", "kube-public", "kube-node-lease", "default"],
        {"type": "array", "items": {"type": "string"}},
        "Namespaces that need no quota (k3s's own by default). Add system namespaces "
        "here only if they are not given a quota."),
    "requiredQuotaKeys": Setting(
        ["requests.cpu", "requests.memory", "limits.memory", "pods"],
        {"type": "array", "items": {"type": "string"}},
        "Keys the namespace's ResourceQuota spec.hard must set "
        "(\"cpu\"/\"memory\" count as requests.cpu/requests.memory)."),
}
_ALIASES = {"cpu": "requests.cpu", "memory": "requests.memory"}


def check_quotas(objects: list[StackObject], cfg: dict) -> list[tuple[str, str]]:
    """(namespace URN, message) for each namespace lacking a quota or limit range."""
    quotas = NamespaceIndex(o for o in objects if o.kind == "ResourceQuota")
    limits = NamespaceIndex(o for o in objects if o.kind == "LimitRange")
    problems = []
    for ns in (o for o in objects if o.kind == "Namespace"):
        name = ns.name()
        if name in cfg["exemptNamespaces"]:
            continue
        label = "(name known after create)" if name is UNKNOWN else repr(name)
        own_quotas = quotas.members(ns)
        scoped = [q for q in own_quotas if get(q.props, "spec", "scopes") or get(q.props, "spec", "scopeSelector")]
        own_quotas = [q for q in own_quotas if q not in scoped]
        if not own_quotas:
            extra = (f" (ResourceQuota {scoped[0].name()!r} is scoped, so ordinary pods are outside it)"
                     if scoped else "")
            problems.append((ns.urn, f"namespace {label} has no ResourceQuota in this stack{extra}"))
        else:
            hard: set[str] = set()
            for q in own_quotas:
                spec_hard = get(q.props, "spec", "hard", default={})
                if is_map(spec_hard):
                    hard |= {_ALIASES.get(k, k) for k in spec_hard.keys()}
            missing = [k for k in cfg["requiredQuotaKeys"] if _ALIASES.get(k, k) not in hard]
            if missing:
                problems.append((ns.urn, f"namespace {label}: ResourceQuota does not set "
                                         f"{', '.join(missing)}"))
        if not limits.members(ns):
            problems.append((ns.urn, f"namespace {label} has no LimitRange in this stack"))
    return problems


POLICY = stack_policy(
    NAME,
    "Every namespace the stack creates must have a ResourceQuota and a LimitRange.",
    check_quotas, SETTINGS)
