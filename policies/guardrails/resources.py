"""Policy `container-resources`: every container declares what it needs.

Creates one ResourceValidationPolicy: each container and init container of every
workload sets `resources.requests.cpu`, `resources.requests.memory` and
`resources.limits.memory` (and `limits.cpu` when `requireCpuLimit` is true), so that
quotas can be admitted and the scheduler can place pods. Ephemeral containers cannot
declare resources in the Kubernetes API and are skipped.
"""

from __future__ import annotations

from typing import Any

from ._k8s import containers, get, pod_specs, resource_policy

NAME = "container-resources"

DEFAULTS: dict[str, Any] = {"requireCpuLimit": False, "exemptNamespaces": []}
_DESCRIPTIONS = {
    "requireCpuLimit": "Also require resources.limits.cpu. Default: false (CPU limits cause throttling).",
    "exemptNamespaces": "Namespaces whose pods are not checked. Default: none.",
}
_TYPES = {
    "requireCpuLimit": {"type": "boolean"},
    "exemptNamespaces": {"type": "array", "items": {"type": "string"}},
}


def check_resources(resource_type: str, props: Any, cfg: dict | None = None) -> list[str]:
    """Messages naming each missing request/limit; empty when compliant."""
    cfg = {**DEFAULTS, **(cfg or {})}
    if get(props, "metadata", "namespace") in cfg["exemptNamespaces"]:
        return []
    required = [("requests", "cpu"), ("requests", "memory"), ("limits", "memory")]
    if cfg["requireCpuLimit"]:
        required.append(("limits", "cpu"))
    problems = []
    for pod in pod_specs(resource_type, props):
        for c in containers(pod, ("initContainers", "containers")):
            missing = [f"{group}.{res}" for group, res in required
                       if get(c.body, "resources", group, res) in (None, "")]
            if missing:
                problems.append(f"{c.label(pod)}: resources {', '.join(missing)} not set")
    return problems


POLICY = resource_policy(
    NAME,
    "Containers must set cpu/memory requests and a memory limit.",
    check_resources, DEFAULTS, _DESCRIPTIONS, _TYPES)
