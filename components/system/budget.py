"""Namespace, ResourceQuota and LimitRange for the system namespaces (`traefik`, `cert-manager`).

Pure builders returning wire-form dicts:
- `system_namespace(name, psa_version=...)`: the Namespace, Pod Security `restricted` in all
  three modes, pinned to the cluster's minor;
- `Budget`: what a chart's pods may use at most (requests and limits summed over every pod
  that can exist at once, rollout surge included), turned into
- `resource_quota(namespace, budget)` and `limit_range(namespace, limits)`: the objects the
  quota policy requires for every namespace the stack creates.

The objects themselves come from components/kube_specs.py, which the tenant layer shares;
this module holds only what is the system layer's own: its labels and the budget arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from components import kube_specs
from components.config import Limits
from components.kube_specs import MANAGED_BY
from components.quantity import parse_quantity


def system_namespace(name: str, *, psa_version: str, level: str = "restricted") -> dict:
    """A system Namespace with Pod Security labels (enforce, audit, warn) at `level`."""
    return kube_specs.namespace(name, labels=MANAGED_BY, psa_version=psa_version, level=level)


@dataclass(frozen=True)
class Budget:
    """Upper bounds for one namespace: total requests/limits and the number of pods."""

    requests_cpu: str
    requests_memory: str
    limits_cpu: str
    limits_memory: str
    pods: int


# LimitRange values for containers that declare no resources (e.g. ACME solver pods): the
# tenants' model with the system namespaces' smaller numbers.
SYSTEM_CONTAINER_LIMITS = Limits(default_cpu="100m", default_memory="64Mi", default_request_cpu="10m",
                                 default_request_memory="32Mi", max_cpu="1", max_memory="512Mi")


def resource_quota(namespace: str, budget: Budget) -> dict:
    """ResourceQuota `quota`: requests, limits and pods from `budget`."""
    return kube_specs.resource_quota(namespace, {
        "requests.cpu": budget.requests_cpu,
        "requests.memory": budget.requests_memory,
        "limits.cpu": budget.limits_cpu,
        "limits.memory": budget.limits_memory,
        "pods": str(budget.pods),
    }, labels=MANAGED_BY)


def limit_range(namespace: str, limits: Limits = SYSTEM_CONTAINER_LIMITS) -> dict:
    """LimitRange `limits`: per-container defaults and maxima (defaultRequest <= default <= max)."""
    return kube_specs.limit_range(namespace, limits, labels=MANAGED_BY)


# Room above the computed rollout peak, so a chart bump that raises a request or adds a pod
# does not stall its own rollout at the quota (the peak alone leaves zero headroom).
HEADROOM = 1.5
EXTRA_PODS = 2


def with_headroom(peak: Budget) -> Budget:
    """The quota for a namespace whose rollout peak is `peak`: HEADROOM x its totals, plus pods."""
    def scaled(value: str, unit: str) -> str:
        return sum_quantities([str(parse_quantity(value) * Decimal(str(HEADROOM)))], unit=unit)

    return Budget(
        requests_cpu=scaled(peak.requests_cpu, "m"),
        requests_memory=scaled(peak.requests_memory, "Mi"),
        limits_cpu=scaled(peak.limits_cpu, "m"),
        limits_memory=scaled(peak.limits_memory, "Mi"),
        pods=peak.pods + EXTRA_PODS,
    )


def sum_quantities(values: list[str], *, unit: str) -> str:
    """Sum quantities and print them in `m` (cpu) or `Mi` (memory), rounded up."""
    total = sum((parse_quantity(v) for v in values), start=parse_quantity("0"))
    if unit == "m":
        return f"{math.ceil(total * 1000)}m"
    if unit == "Mi":
        return f"{math.ceil(total / (1024 * 1024))}Mi"
    raise ValueError(f"unit: {unit!r} must be 'm' or 'Mi'")
