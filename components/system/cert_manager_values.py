"""Helm values for the official cert-manager chart (pinned v1.21.1).

`cert_manager_values()` returns the values dict given to the chart's `kubernetes.helm.v3.Release`:
- `crds.enabled: true` — the chart installs (and, with `crds.keep`, never deletes) the
  Issuer/Certificate CRDs, so every Issuer in the stack can depend on this one chart;
- leader election inside the `cert-manager` namespace rather than `kube-system`, so that
  everything the chart needs stays in the namespace the stack bounds with a quota;
- for each of the four components (controller, webhook, cainjector, startupapicheck):
  pinned image tag, non-root, seccomp RuntimeDefault, no privilege escalation, all
  capabilities dropped, read-only root filesystem, cpu/memory requests and limits;
- the ACME solver image pinned to the same release.

`startupapicheck` is a Helm post-install hook: the Release runs it and waits until it
succeeds, which it does only once the webhook admits a dry-run Certificate, so every Issuer
that depends on the Release is created after cert-manager can admit it (docs/adr/0003).

Pure: no pulumi import.
"""

from __future__ import annotations

from components.kube_specs import restricted_pod_security_context, restricted_security_context
from components.system.budget import Budget, sum_quantities, with_headroom
from components.system.chart_pin import ChartPin

# Ref: https://github.com/cert-manager/cert-manager/releases/tag/v1.21.1
CERT_MANAGER_CHART = ChartPin(chart="cert-manager", version="v1.21.1", repo="https://charts.jetstack.io",
                              app_version="v1.21.1")

# Sized for a small cluster; the controller is the only one that grows with the number of
# certificates.
RESOURCES = {
    "controller": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
    "webhook": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
    "cainjector": {"requests": {"cpu": "20m", "memory": "128Mi"}, "limits": {"cpu": "200m", "memory": "256Mi"}},
    "startupapicheck": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
}
COMPONENTS = tuple(RESOURCES)


def _component(name: str, tag: str) -> dict:
    return {
        "image": {"tag": tag},
        "resources": {k: dict(v) for k, v in RESOURCES[name].items()},
        "securityContext": restricted_pod_security_context(),
        "containerSecurityContext": restricted_security_context(),
    }


def cert_manager_values(*, namespace: str = "cert-manager", image_tag: str = CERT_MANAGER_CHART.app_version) -> dict:
    """Values for the cert-manager chart; see the module docstring."""
    values: dict = {
        "crds": {"enabled": True, "keep": True},
        "global": {"leaderElection": {"namespace": namespace}},
        **_component("controller", image_tag),
        "webhook": _component("webhook", image_tag),
        "cainjector": _component("cainjector", image_tag),
        # A post-install hook the Release runs and waits for (the webhook really answers).
        "startupapicheck": {"enabled": True, **_component("startupapicheck", image_tag)},
        "acmesolver": {"image": {"tag": image_tag}},
    }
    return values


def cert_manager_budget() -> Budget:
    """Quota for the `cert-manager` namespace: each Deployment twice (rollout surge) plus the
    startupapicheck Job's pod, with headroom (budget.with_headroom) for chart bumps."""
    running = ["controller", "webhook", "cainjector"] * 2 + ["startupapicheck"]

    def total(kind: str, resource: str, unit: str) -> str:
        return sum_quantities([RESOURCES[c][kind][resource] for c in running], unit=unit)

    return with_headroom(Budget(
        requests_cpu=total("requests", "cpu", "m"),
        requests_memory=total("requests", "memory", "Mi"),
        limits_cpu=total("limits", "cpu", "m"),
        limits_memory=total("limits", "memory", "Mi"),
        pods=len(running) + 1,
    ))
