"""Policy `container-resources`: every container declares what it needs.

Creates one ResourceValidationPolicy: each container and init container of every
workload sets `resources.requests.cpu`, `resources.requests.memory` and
`resources.limits.memory` (and `limits.cpu` when `requireCpuLimit` is true), each above
zero (a zero request or limit satisfies the quota's bookkeeping but reserves nothing, and a
zero memory limit is refused by the kubelet), so that quotas can be admitted and the
scheduler can place pods. Ephemeral containers cannot
declare resources in the Kubernetes API and are skipped.
"""

from __future__ import annotations

import re
from typing import Any

from ._k8s import containers, get, pod_specs, resource_policy
from ._settings import Setting

NAME = "container-resources"

SETTINGS = {
    "requireCpuLimit": Setting(False, {"type": "boolean"},
                               "Also require resources.limits.cpu. Default: false (CPU limits cause throttling)."),
    "exemptNamespaces": Setting([], {"type": "array", "items": {"type": "string"}},
                                "Namespaces whose pods are not checked. Default: none."),
}


_ZERO = re.compile(r"^[+-]?(?:0+(?:\.0*)?|\.0+)(?:[eE][+-]?[0-9]+|[a-zA-Z]{0,2})$")


def is_zero(value: Any) -> bool:
    """Whether a Kubernetes quantity (string or number) is zero, e.g. 0, "0m", "0.0Gi"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value == 0
    return bool(_ZERO.match(str(value).strip()))


def check_resources(resource_type: str, props: Any, cfg: dict) -> list[str]:
    """Messages naming each missing request/limit; empty when compliant."""
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
            zero = [f"{group}.{res}" for group in ("requests", "limits") for res in ("cpu", "memory")
                    if get(c.body, "resources", group, res) not in (None, "")
                    and is_zero(get(c.body, "resources", group, res))]
            if zero:
                problems.append(f"{c.label(pod)}: resources {', '.join(zero)} set to zero")
    return problems


POLICY = resource_policy(
    NAME,
    "Containers must set cpu/memory requests and a memory limit.",
    check_resources, SETTINGS)
