"""Helm values for the official Traefik chart (pinned 41.3.0, Traefik v3.7.11).

`traefik_values(replicas=..., ha=..., trusted_proxies=...)` returns the values dict given to
the chart's `kubernetes.helm.v3.Release`. Every value is set on purpose; the chart enforces its values
schema since v39, so only keys of the v41 schema appear here (v41 renamed `logs.*` to
`log`/`accessLog`; v39 moved entry-point HTTP options under `ports.<name>.http`).

What the values say:
- providers: `kubernetesCRD` (IngressRoute, Middleware, TLSOption) and `kubernetesIngress`
  (cert-manager's HTTP-01 solver publishes a plain Ingress); no cross-namespace references,
  no ExternalName services;
- `web` (80) redirects permanently to `websecure` (443) with the lowest router priority, so
  that the ACME solver's own router on `web` still answers `/.well-known/acme-challenge/`;
- PROXY protocol and X-Forwarded-* headers trusted only from `trusted_proxies` (prod: the
  router's LAN address, whose HAProxy speaks PROXY v2; dev: nobody);
- the Service keeps the client's source address (`externalTrafficPolicy: Local`): with
  k3s ServiceLB and the default `Cluster` policy the connection reaches Traefik SNATed to a
  node/pod address, so in prod the router's PROXY header would come from an untrusted
  address (and be ignored) and in both stacks the dashboard's IP allow-list would see the
  node instead of the admin;
- non-root (65532), read-only root filesystem, no privilege escalation, all capabilities
  dropped, seccomp RuntimeDefault; requests and limits on the container;
- JSON access logs and Prometheus metrics on the internal `metrics` entry point;
- the chart's own dashboard IngressRoute is off (the stack builds a protected one);
- in HA: replicas >= 2, a PodDisruptionBudget (minAvailable 1) and pod anti-affinity.

Pure: no pulumi import. Inputs are validated config (components/config/); nothing here
checks them again.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network

from components.kube_specs import restricted_pod_security_context, restricted_security_context
from components.system.budget import Budget, sum_quantities, with_headroom
from components.system.chart_pin import ChartPin

# Ref: https://github.com/traefik/traefik-helm-chart/releases/tag/v41.3.0 (appVersion v3.7.11);
# crd-schemas/ is generated from this pin's CRDs (`./run schemas`).
TRAEFIK_CHART = ChartPin(chart="traefik", version="41.3.0", repo="https://traefik.github.io/charts",
                         app_version="v3.7.11")

INGRESS_CLASS = "traefik"
# Labels the chart puts on Traefik's pods (the tenant NetworkPolicies select them too).
POD_LABELS = {"app.kubernetes.io/name": "traefik"}
RUN_AS_ID = 65532  # the chart's default non-root user/group

RESOURCES = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "1", "memory": "256Mi"},
}


def _entry_point_trust(trusted: list[str]) -> dict:
    # An empty list means "trust nobody": Traefik then ignores PROXY headers and strips
    # X-Forwarded-* from clients.
    return {
        "proxyProtocol": {"trustedIPs": list(trusted), "insecure": False},
        "forwardedHeaders": {"trustedIPs": list(trusted), "insecure": False},
    }


def traefik_values(*, replicas: int, ha: bool, trusted_proxies: Sequence[IPv4Network] = (), nodes: Sequence[str] = (),
                   image_tag: str = TRAEFIK_CHART.app_version) -> dict:
    """Values for the Traefik chart; see the module docstring for what each part means.
    Inputs are validated config (`ingress.replicas`, and 2 or more in an HA stack)."""
    trusted = [str(p) for p in trusted_proxies]

    values: dict = {
        "image": {"tag": image_tag},
        "deployment": {"replicas": replicas},
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "ingressClass": {"enabled": True, "isDefaultClass": True, "name": INGRESS_CLASS},
        "providers": {
            "kubernetesCRD": {
                "enabled": True,
                "allowCrossNamespace": False,
                "allowExternalNameServices": False,
            },
            # Needed by cert-manager's HTTP-01 solver, which publishes a plain Ingress.
            "kubernetesIngress": {"enabled": True, "allowExternalNameServices": False},
        },
        "api": {"dashboard": True},
        # The stack builds its own dashboard route (BasicAuth + allow-list + TLS).
        "ingressRoute": {"dashboard": {"enabled": False}},
        "ports": {
            "web": {
                "http": {"redirections": {"entryPoint": {
                    "to": "websecure", "scheme": "https", "permanent": True,
                    # Lowest priority: any router on `web` (only the ACME solver's) wins.
                    # Ref: https://doc.traefik.io/traefik/reference/install-configuration/entrypoints/
                    "priority": 1,
                }}},
                **_entry_point_trust(trusted),
            },
            "websecure": _entry_point_trust(trusted),
        },
        "log": {"level": "INFO", "format": "json"},
        "accessLog": {"enabled": True, "format": "json"},
        "metrics": {"prometheus": {
            "entryPoint": "metrics",
            "addEntryPointsLabels": True,
            "addRoutersLabels": True,
            "addServicesLabels": True,
        }},
        "podSecurityContext": restricted_pod_security_context(run_as=RUN_AS_ID),
        "securityContext": restricted_security_context(),
        "resources": {k: dict(v) for k, v in RESOURCES.items()},
        "podDisruptionBudget": {"enabled": False},
        # Source IP preserved: Traefik must see the router (prod, PROXY v2 trusted from it
        # only) or the client itself (dev) — not a SNATed node address.
        # Ref: https://github.com/k3s-io/k3s/issues/7798 (k3s maintainer: with ServiceLB, set
        #      the Service's external traffic policy to Local so the source address is not
        #      hidden by SNAT); the chart copies `service.spec` into the Service's spec
        #      (traefik-helm-chart traefik/tests/service-new_test.yaml).
        "service": {"spec": {"externalTrafficPolicy": "Local"}},
    }
    if ha:
        values["podDisruptionBudget"] = {"enabled": True, "minAvailable": 1}
        # One replica on each ingress node and nowhere else: HAProxy's 80/443 backends are
        # exactly these nodes (config validation keeps replicas == len(nodes)), so every
        # connection lands where Traefik runs and ServiceLB (externalTrafficPolicy Local)
        # forwards it without masquerading.
        values["affinity"] = {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
                "matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In",
                                      "values": sorted(nodes)}]}]}},
            "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": dict(POD_LABELS)},
                "topologyKey": "kubernetes.io/hostname",
            }]},
        }
    return values


def traefik_budget(replicas: int) -> Budget:
    """Quota for the `traefik` namespace: replicas + one rollout surge + two ACME solver pods.

    Solver pods (for the dashboard certificate) get the namespace's LimitRange defaults
    (10m/32Mi requested, 100m/64Mi limit).
    """
    pods = replicas + 1
    solvers = 2
    return with_headroom(Budget(
        requests_cpu=sum_quantities([RESOURCES["requests"]["cpu"]] * pods + ["10m"] * solvers, unit="m"),
        requests_memory=sum_quantities([RESOURCES["requests"]["memory"]] * pods + ["32Mi"] * solvers, unit="Mi"),
        limits_cpu=sum_quantities([RESOURCES["limits"]["cpu"]] * pods + ["100m"] * solvers, unit="m"),
        limits_memory=sum_quantities([RESOURCES["limits"]["memory"]] * pods + ["64Mi"] * solvers, unit="Mi"),
        pods=pods + solvers,
    ))
