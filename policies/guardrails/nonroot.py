"""Policy `pods-run-as-non-root`: every container of every workload runs as non-root.

Creates one ResourceValidationPolicy. A container passes when its effective
`runAsNonRoot` is true (container-level value wins over the pod-level one) and no
`runAsUser: 0` is set at pod or container level. An explicit pod-level
`runAsNonRoot: false` is rejected even when containers override it, as Pod Security
admission does (kubernetes/pod-security-admission `check_runAsNonRoot.go`).
"""

from __future__ import annotations

from typing import Any

from ._k8s import containers, fmt_num, get, pod_specs, resource_policy
from ._settings import Setting

NAME = "pods-run-as-non-root"

SETTINGS = {
    "exemptNamespaces": Setting([], {"type": "array", "items": {"type": "string"}},
                                "Namespaces whose pods are not checked (e.g. a break-glass namespace). "
                                "Default: none."),
}


def check_non_root(resource_type: str, props: Any, cfg: dict) -> list[str]:
    """Messages for every container that may run as root; empty when compliant."""
    if get(props, "metadata", "namespace") in cfg["exemptNamespaces"]:
        return []
    problems: list[str] = []
    for pod in pod_specs(resource_type, props):
        pod_ctx = get(pod.spec, "securityContext", default={})
        pod_non_root = get(pod_ctx, "runAsNonRoot")
        if pod_non_root is False:
            problems.append(f"{pod.path}.securityContext.runAsNonRoot is false; set it to true")
        if get(pod_ctx, "runAsUser") == 0:
            problems.append(f"{pod.path}.securityContext.runAsUser is 0 (root); use a non-zero UID")
        for c in containers(pod):
            ctx = get(c.body, "securityContext", default={})
            own = get(ctx, "runAsNonRoot")
            effective = own if own is not None else pod_non_root
            if own is False:
                problems.append(f"{c.label(pod)}: securityContext.runAsNonRoot is false; set it to true")
            elif effective is not True:
                problems.append(
                    f"{c.label(pod)}: runAsNonRoot is not set to true at container or pod level")
            if get(ctx, "runAsUser") == 0:
                problems.append(
                    f"{c.label(pod)}: securityContext.runAsUser is {fmt_num(0)} (root); use a non-zero UID")
    return problems


POLICY = resource_policy(
    NAME,
    "Workload containers must run as non-root (runAsNonRoot: true, never runAsUser: 0).",
    check_non_root, SETTINGS)
