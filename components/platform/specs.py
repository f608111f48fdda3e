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

The Namespace, ResourceQuota and LimitRange shapes are the shared ones
(components/kube_specs.py); this module adds what is the tenant's own: its labels, the
zero LoadBalancer/NodePort quota, and the NetworkPolicies.

Nothing here imports pulumi: the thin Tenant component wires Outputs into these functions.
Inputs are validated config (components/config/): nothing here checks them again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from components import kube_specs, names
from components.config import EgressAllow

__all__ = [
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


# --- labels and well-known names (the rest of the program relies on these) -----------------

TENANT_LABEL = names.TENANT_LABEL
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
# Set by the API server on every namespace since Kubernetes 1.22; safe to select on.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
PSA_MODES = ("enforce", "audit", "warn")

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

# --- shared metadata -------------------------------------------------------------------------


def tenant_labels(tenant: str) -> dict[str, str]:
    """Labels every object of a tenant carries."""
    return {TENANT_LABEL: tenant, MANAGED_BY_LABEL: "pulumi"}


def _metadata(name: str, namespace: str) -> dict:
    return {"name": name, "namespace": namespace, "labels": tenant_labels(namespace)}


# --- Namespace -------------------------------------------------------------------------------


def namespace(tenant: str, *, psa_version: str, hosts: Sequence[str] = ()) -> dict:
    """The tenant Namespace: name = tenant, Pod Security ``restricted`` in all three modes,
    pinned to a Kubernetes minor (``"v1.34"``), and the hosts it owns (host_ownership.py)."""
    from components.platform.host_ownership import hosts_annotation

    obj = kube_specs.namespace(tenant, labels=tenant_labels(tenant), psa_version=psa_version)
    if hosts:
        obj["metadata"]["annotations"] = hosts_annotation(hosts)
    return obj


# --- ResourceQuota ---------------------------------------------------------------------------

# Always zero: tenants publish through Traefik, never by a node port or a LoadBalancer IP.
_FORBIDDEN_SERVICE_TYPES = {"services.loadbalancers": "0", "services.nodeports": "0"}


def resource_quota(namespace: str, hard: Mapping[str, str]) -> dict:
    """ResourceQuota ``quota`` from the tenant's limits (sorted), plus zero LoadBalancers/NodePorts."""
    spec_hard = {key: str(hard[key]) for key in sorted(hard)}
    spec_hard.update(_FORBIDDEN_SERVICE_TYPES)
    return kube_specs.resource_quota(namespace, spec_hard, labels=tenant_labels(namespace))


# --- LimitRange ------------------------------------------------------------------------------

def limit_range(namespace: str, limits: kube_specs.ContainerLimits) -> dict:
    """LimitRange ``limits``: the tenant's per-container default limits, default requests and
    maxima (config checks defaultRequest <= default <= max and that both fit the quota)."""
    return kube_specs.limit_range(namespace, limits, labels=tenant_labels(namespace))


# --- NetworkPolicies -------------------------------------------------------------------------


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


def _egress_policy(namespace: str, index: int, rule: EgressAllow) -> dict:
    # Config requires at least one port: an empty list would mean "every port".
    ports = [{"protocol": rule.protocol, "port": p} for p in rule.ports]
    return _network_policy(
        namespace,
        f"allow-egress-{index}",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": str(rule.cidr)}}], "ports": ports}],
        },
    )


def network_policies(
    namespace: str,
    *,
    app_ports: Sequence[int],
    traefik_namespace: str = "traefik",
    egress: Sequence[EgressAllow] = (),
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
    ports = sorted(set(app_ports))

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
