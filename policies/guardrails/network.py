"""Policy `tenant-default-deny`: every tenant namespace starts closed.

Creates one StackValidationPolicy: each Namespace labelled `tenantLabel`
(default `k3s-platform/tenant`) must have, in the same stack, a NetworkPolicy that
selects every pod (`podSelector: {}`), lists both `Ingress` and `Egress` in
`policyTypes` and has no ingress/egress rules — i.e. denies all traffic until named
allow policies open it. No Service may set `externalIPs`: anyone who can create one can
capture traffic to any address (CVE-2020-8554); traffic enters through Traefik.
"""

from __future__ import annotations

from typing import Any

from ._k8s import UNKNOWN, NamespaceIndex, StackObject, as_list, get, is_map, stack_policy
from ._settings import Setting

NAME = "tenant-default-deny"

SETTINGS = {
    "tenantLabel": Setting("k3s-platform/tenant", {"type": "string", "minLength": 1},
                           "Namespace label that marks a tenant namespace. Default: k3s-platform/tenant."),
}


def is_default_deny(props: Any) -> bool:
    spec = get(props, "spec", default={})
    selector = get(spec, "podSelector")
    if not is_map(selector) or get(selector, "matchLabels") or get(selector, "matchExpressions"):
        return False
    types = {str(t) for t in as_list(get(spec, "policyTypes"))}
    if not {"Ingress", "Egress"} <= types:
        return False
    return not as_list(get(spec, "ingress")) and not as_list(get(spec, "egress"))


def check_default_deny(objects: list[StackObject], cfg: dict) -> list[tuple[str, str]]:
    policies = NamespaceIndex(o for o in objects if o.kind == "NetworkPolicy")
    problems = []
    for ns in (o for o in objects if o.kind == "Namespace"):
        labels = get(ns.props, "metadata", "labels", default={})
        if not is_map(labels) or cfg["tenantLabel"] not in labels:
            continue
        if not any(is_default_deny(p.props) for p in policies.members(ns)):
            name = ns.name()
            label = "(name known after create)" if name is UNKNOWN else repr(name)
            problems.append((ns.urn, f"tenant namespace {label} has no default-deny NetworkPolicy "
                                     "(podSelector: {}, policyTypes [Ingress, Egress], no rules)"))
    for svc in (o for o in objects if o.kind == "Service"):
        if as_list(get(svc.props, "spec", "externalIPs")):
            problems.append((svc.urn, f"Service {svc.name()!r} sets spec.externalIPs, which can capture "
                                      "traffic to those addresses; publish it through Traefik instead"))
    return problems


POLICY = stack_policy(
    NAME,
    "Every tenant namespace must have a default-deny (ingress and egress) NetworkPolicy; "
    "no Service sets externalIPs.",
    check_default_deny, SETTINGS)
