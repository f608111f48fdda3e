"""Pure builders for the Kubernetes objects that make up one tenant's namespace.

What this module creates (as plain wire-form dicts, camelCase, ready for
``kubernetes.yaml``-style or typed ``pulumi_kubernetes`` resources):

- ``namespace``         the tenant Namespace, Pod Security ``restricted`` (enforce, audit
                        and warn, pinned to a cluster minor) plus tenant labels;
- ``resource_quota``    a ResourceQuota from the tenant's limits, always forbidding
                        LoadBalancer and NodePort services;
- ``limit_range``       a LimitRange with per-container defaults and maxima;
- ``network_policies``  default deny of all ingress and egress, then one named allow per
                        need: DNS, same namespace, Traefik to the app ports, the ACME
                        HTTP-01 solver, and an optional egress allow-list.

It also offers ``parse_quantity`` (Kubernetes quantity syntax -> Decimal) for the config
layer's "LimitRange default within quota" check.

Nothing here imports pulumi: the thin Tenant component wires Outputs into these functions.
Bad input raises ``SpecError`` (a ValueError) whose message starts with the offending field.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from components.quantity import parse_quantity

__all__ = [
    "SpecError",
    "EgressRule",
    "parse_quantity",
    "tenant_labels",
    "namespace",
    "resource_quota",
    "limit_range",
    "network_policies",
    "TENANT_LABEL",
    "MANAGED_BY_LABEL",
    "ACME_SOLVER_LABEL",
    "ACME_SOLVER_PORT",
]


class SpecError(ValueError):
    """Invalid input to a spec builder; the message names the field first."""


# --- labels and well-known names (the rest of the program relies on these) -----------------

TENANT_LABEL = "k3s-platform/tenant"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
# Set by the API server on every namespace since Kubernetes 1.22; safe to select on.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
PSA_MODES = ("enforce", "audit", "warn")
PSA_LEVEL = "restricted"

TRAEFIK_POD_LABELS = {"app.kubernetes.io/name": "traefik"}
# k3s ships CoreDNS with the historical kube-dns label.
DNS_NAMESPACE = "kube-system"
DNS_POD_LABELS = {"k8s-app": "kube-dns"}

# cert-manager marks every HTTP-01 solver pod with this label (value "true") and the
# solver listens on 8089.
# Ref: https://github.com/cert-manager/cert-manager/blob/master/pkg/apis/acme/v1/types.go (SolverIdentificationLabelKey)
# Ref: https://github.com/cert-manager/cert-manager/blob/master/pkg/issuer/acme/http/http.go (acmeSolverListenPort)
ACME_SOLVER_LABEL = "acme.cert-manager.io/http01-solver"
ACME_SOLVER_PORT = 8089

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_PSA_VERSION = re.compile(r"^(v1\.\d+|latest)$")
_PROTOCOLS = ("TCP", "UDP", "SCTP")


def _positive_quantity(field: str, value: object) -> str:
    """Check one quantity is valid and > 0; return it as the wire string."""
    try:
        amount = parse_quantity(value)  # type: ignore[arg-type]
    except ValueError as err:
        raise SpecError(f"{field}: {err}") from None
    if amount <= 0:
        raise SpecError(f"{field}: must be a positive quantity, got {value!r}")
    return str(value)


# --- shared metadata -------------------------------------------------------------------------


def _check_dns_label(field: str, value: object) -> str:
    if not isinstance(value, str) or len(value) > 63 or not _DNS1123_LABEL.match(value):
        raise SpecError(
            f"{field}: {value!r} is not a valid name (lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters)"
        )
    return value


def tenant_labels(tenant: str) -> dict[str, str]:
    """Labels every object of a tenant carries."""
    return {TENANT_LABEL: tenant, MANAGED_BY_LABEL: "pulumi"}


def _metadata(name: str, namespace: str) -> dict:
    return {"name": name, "namespace": namespace, "labels": tenant_labels(namespace)}


# --- Namespace -------------------------------------------------------------------------------


def namespace(tenant: str, *, psa_version: str, extra_labels: Mapping[str, str] | None = None) -> dict:
    """The tenant Namespace: name = tenant, Pod Security ``restricted`` in all three modes.

    ``psa_version`` pins the policy to a Kubernetes minor (``"v1.34"``) so a cluster upgrade
    cannot tighten or loosen admission silently; ``"latest"`` is accepted but not advised.
    ``extra_labels`` may add labels but never override the tenant or Pod Security ones.
    """
    _check_dns_label("tenant", tenant)
    if not isinstance(psa_version, str) or not _PSA_VERSION.match(psa_version):
        raise SpecError(f"psa_version: {psa_version!r} must look like 'v1.34' (or 'latest')")
    labels = tenant_labels(tenant)
    for mode in PSA_MODES:
        labels[f"pod-security.kubernetes.io/{mode}"] = PSA_LEVEL
        labels[f"pod-security.kubernetes.io/{mode}-version"] = psa_version
    for key, value in (extra_labels or {}).items():
        if key in labels or key.startswith("pod-security.kubernetes.io/"):
            raise SpecError(f"extra_labels.{key}: reserved label, set by the platform")
        if not isinstance(value, str):
            raise SpecError(f"extra_labels.{key}: value must be a string, got {value!r}")
        labels[key] = value
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": tenant, "labels": labels},
    }


# --- ResourceQuota ---------------------------------------------------------------------------

# Quota keys a tenant may set; anything else is most likely a typo that would
# silently not limit anything.
# Ref: https://kubernetes.io/docs/concepts/policy/resource-quotas/
QUOTA_KEYS = frozenset(
    {
        "requests.cpu",
        "requests.memory",
        "limits.cpu",
        "limits.memory",
        "requests.ephemeral-storage",
        "limits.ephemeral-storage",
        "pods",
        "persistentvolumeclaims",
        "requests.storage",
        "services",
        "configmaps",
        "secrets",
    }
)
# Always zero: tenants publish through Traefik, never by a node port or a LoadBalancer IP.
_FORBIDDEN_SERVICE_TYPES = {"services.loadbalancers": "0", "services.nodeports": "0"}


def resource_quota(namespace: str, hard: Mapping[str, str]) -> dict:
    """ResourceQuota ``quota`` from the tenant's limits, plus zero LoadBalancers/NodePorts.

    Every value must be a positive quantity; ``count/<resource>.<group>`` keys are allowed
    alongside the standard ones.
    """
    _check_dns_label("namespace", namespace)
    if not hard:
        raise SpecError("quota: at least one limit is required (e.g. requests.cpu, limits.memory, pods)")
    spec_hard: dict[str, str] = {}
    for key in sorted(hard):
        if key in _FORBIDDEN_SERVICE_TYPES:
            raise SpecError(f"quota.{key}: always 0 on this platform (services are published through Traefik); remove it")
        if key not in QUOTA_KEYS and not key.startswith("count/"):
            raise SpecError(f"quota.{key}: unknown quota key; use one of {', '.join(sorted(QUOTA_KEYS))} or count/<resource>")
        spec_hard[key] = _positive_quantity(f"quota.{key}", hard[key])
    spec_hard.update(_FORBIDDEN_SERVICE_TYPES)
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _metadata("quota", namespace),
        "spec": {"hard": spec_hard},
    }


# --- LimitRange ------------------------------------------------------------------------------

LIMIT_KEYS = ("cpu", "memory", "ephemeral-storage")


def limit_range(
    namespace: str,
    *,
    default: Mapping[str, str],
    default_request: Mapping[str, str],
    max: Mapping[str, str],  # noqa: A002 - mirrors the LimitRange field name
) -> dict:
    """LimitRange ``limits``: per-container default limits, default requests and maxima.

    Checks what the API server would reject, but with the field named:
    ``defaultRequest <= default <= max`` for every resource that has both values.
    """
    _check_dns_label("namespace", namespace)
    sections = {"default": default, "defaultRequest": default_request, "max": max}
    parsed: dict[str, dict[str, Decimal]] = {}
    wire: dict[str, dict[str, str]] = {}
    for section, values in sections.items():
        parsed[section], wire[section] = {}, {}
        for key in sorted(values or {}):
            field = f"limits.{section}.{key}"
            if key not in LIMIT_KEYS:
                raise SpecError(f"{field}: unknown resource; use one of {', '.join(LIMIT_KEYS)}")
            wire[section][key] = _positive_quantity(field, values[key])
            parsed[section][key] = parse_quantity(values[key])
    # The quota covers cpu and memory, so a container without both would be rejected;
    # the defaults are what fill them in.
    for section in ("default", "defaultRequest"):
        for key in ("cpu", "memory"):
            if key not in wire[section]:
                raise SpecError(f"limits.{section}.{key}: required (the quota needs every container to declare it)")
    for lower, upper in (("defaultRequest", "default"), ("default", "max"), ("defaultRequest", "max")):
        for key, low in parsed[lower].items():
            high = parsed[upper].get(key)
            if high is not None and low > high:
                raise SpecError(
                    f"limits.{lower}.{key}: {wire[lower][key]} is above limits.{upper}.{key} ({wire[upper][key]})"
                )
    item: dict = {"type": "Container"}
    for section in ("default", "defaultRequest", "max"):
        if wire[section]:
            item[section] = wire[section]
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _metadata("limits", namespace),
        "spec": {"limits": [item]},
    }


# --- NetworkPolicies -------------------------------------------------------------------------


@dataclass(frozen=True)
class EgressRule:
    """One entry of the tenant's egress allow-list: a CIDR and the ports allowed to it."""

    cidr: str
    ports: tuple[int, ...]
    protocol: str = "TCP"


def _check_port(field: str, port: object) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise SpecError(f"{field}: {port!r} is not a port number (1-65535)")
    return port


def _network_policy(namespace: str, name: str, spec: dict) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(name, namespace),
        "spec": spec,
    }


def _traefik_peer(traefik_namespace: str) -> dict:
    # Namespace AND pod selector in one peer: only Traefik's pods in Traefik's namespace.
    return {
        "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: traefik_namespace}},
        "podSelector": {"matchLabels": dict(TRAEFIK_POD_LABELS)},
    }


def _egress_policy(namespace: str, index: int, rule: EgressRule) -> dict:
    field = f"egress[{index}]"
    if not isinstance(rule, EgressRule):
        raise SpecError(f"{field}: expected an EgressRule(cidr, ports, protocol), got {type(rule).__name__}")
    try:
        network = ipaddress.ip_network(rule.cidr, strict=True)
    except (ValueError, TypeError) as err:
        raise SpecError(f"{field}.cidr: {rule.cidr!r} is not a network in CIDR form ({err})") from None
    if rule.protocol not in _PROTOCOLS:
        raise SpecError(f"{field}.protocol: {rule.protocol!r} must be one of {', '.join(_PROTOCOLS)}")
    # An empty port list would mean "every port": make the allow-list say what it allows.
    if not rule.ports:
        raise SpecError(f"{field}.ports: list at least one port")
    ports = [
        {"protocol": rule.protocol, "port": _check_port(f"{field}.ports[{i}]", p)}
        for i, p in enumerate(rule.ports)
    ]
    return _network_policy(
        namespace,
        f"allow-egress-{index}",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": str(network)}}], "ports": ports}],
        },
    )


def network_policies(
    namespace: str,
    *,
    app_ports: Sequence[int],
    traefik_namespace: str = "traefik",
    egress: Sequence[EgressRule] = (),
) -> list[dict]:
    """The tenant's NetworkPolicies: ``default-deny`` first, then one named allow per need.

    - ``default-deny``: every pod, ingress and egress, no rules.
    - ``allow-dns``: egress to kube-system's DNS pods on 53/UDP and 53/TCP.
    - ``allow-same-namespace``: ingress from and egress to pods of this namespace.
    - ``allow-from-traefik``: ingress from Traefik's pods to ``app_ports`` (TCP); omitted
      when ``app_ports`` is empty, because a rule without ports would open every port.
    - ``allow-acme-solver``: ingress from Traefik to cert-manager's HTTP-01 solver pods on
      8089, so certificates can be issued despite the default deny.
    - ``allow-egress-<i>``: one per ``egress`` entry, ``i`` being its index in the list.
    """
    _check_dns_label("namespace", namespace)
    _check_dns_label("traefik_namespace", traefik_namespace)
    ports = sorted({_check_port(f"app_ports[{i}]", p) for i, p in enumerate(app_ports)})

    policies = [
        _network_policy(namespace, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        _network_policy(
            namespace,
            "allow-dns",
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: DNS_NAMESPACE}},
                                "podSelector": {"matchLabels": dict(DNS_POD_LABELS)},
                            }
                        ],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }
                ],
            },
        ),
        _network_policy(
            namespace,
            "allow-same-namespace",
            {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                # A bare podSelector peer means "pods in this policy's namespace".
                "ingress": [{"from": [{"podSelector": {}}]}],
                "egress": [{"to": [{"podSelector": {}}]}],
            },
        ),
    ]
    if ports:
        policies.append(
            _network_policy(
                namespace,
                "allow-from-traefik",
                {
                    "podSelector": {},
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {
                            "from": [_traefik_peer(traefik_namespace)],
                            "ports": [{"protocol": "TCP", "port": p} for p in ports],
                        }
                    ],
                },
            )
        )
    policies.append(
        _network_policy(
            namespace,
            "allow-acme-solver",
            {
                "podSelector": {"matchLabels": {ACME_SOLVER_LABEL: "true"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [_traefik_peer(traefik_namespace)],
                        "ports": [{"protocol": "TCP", "port": ACME_SOLVER_PORT}],
                    }
                ],
            },
        )
    )
    policies.extend(_egress_policy(namespace, i, rule) for i, rule in enumerate(egress))
    return policies
