"""Namespace, ResourceQuota and LimitRange for the system namespaces (`traefik`, `cert-manager`).

Pure builders returning wire-form dicts:
- `system_namespace(name, psa_version=...)`: the Namespace, Pod Security `restricted` in all
  three modes, pinned to the cluster's minor;
- `Budget`: what a chart's pods may use at most (requests and limits summed over every pod
  that can exist at once, rollout surge included), turned into
- `resource_quota(namespace, budget)` and `limit_range(namespace, defaults)`: the objects the
  quota policy requires for every namespace the stack creates.

The tenant layer has its own builders (components/platform/specs.py); layers depend
downwards only, so the system layer keeps these few lines to itself.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

from components.quantity import parse_quantity

MANAGED_BY = {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "k3s-platform"}
_PSA_VERSION = re.compile(r"^(v1\.\d+|latest)$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class BudgetError(ValueError):
    """Invalid input; the message starts with the offending field."""


def _label(field: str, value: str) -> str:
    if not isinstance(value, str) or not _DNS_LABEL.match(value):
        raise BudgetError(f"{field}: {value!r} is not a DNS label")
    return value


def _quantity(field: str, value: str) -> str:
    try:
        amount = parse_quantity(str(value))
    except ValueError:
        raise BudgetError(f"{field}: {value!r} is not a Kubernetes quantity (e.g. 500m, 256Mi)") from None
    if amount <= 0:
        raise BudgetError(f"{field}: {value!r} must be positive")
    return str(value)


def system_namespace(name: str, *, psa_version: str, level: str = "restricted") -> dict:
    """A system Namespace with Pod Security labels (enforce, audit, warn) at `level`."""
    _label("name", name)
    if not isinstance(psa_version, str) or not _PSA_VERSION.match(psa_version):
        raise BudgetError(f"psa_version: {psa_version!r} must look like 'v1.34' (or 'latest')")
    if level not in ("restricted", "baseline"):
        raise BudgetError(f"level: {level!r} must be 'restricted' or 'baseline'")
    labels = dict(MANAGED_BY)
    for mode in ("enforce", "audit", "warn"):
        labels[f"pod-security.kubernetes.io/{mode}"] = level
        labels[f"pod-security.kubernetes.io/{mode}-version"] = psa_version
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


@dataclass(frozen=True)
class Budget:
    """Upper bounds for one namespace: total requests/limits and the number of pods."""

    requests_cpu: str
    requests_memory: str
    limits_cpu: str
    limits_memory: str
    pods: int


@dataclass(frozen=True)
class ContainerDefaults:
    """LimitRange values for containers that declare no resources (e.g. ACME solver pods)."""

    default_cpu: str = "100m"
    default_memory: str = "64Mi"
    default_request_cpu: str = "10m"
    default_request_memory: str = "32Mi"
    max_cpu: str = "1"
    max_memory: str = "512Mi"


def resource_quota(namespace: str, budget: Budget) -> dict:
    """ResourceQuota `quota`: requests, limits and pods from `budget`."""
    _label("namespace", namespace)
    if isinstance(budget.pods, bool) or not isinstance(budget.pods, int) or budget.pods < 1:
        raise BudgetError(f"budget.pods: {budget.pods!r} must be a positive integer")
    hard = {
        "requests.cpu": _quantity("budget.requests_cpu", budget.requests_cpu),
        "requests.memory": _quantity("budget.requests_memory", budget.requests_memory),
        "limits.cpu": _quantity("budget.limits_cpu", budget.limits_cpu),
        "limits.memory": _quantity("budget.limits_memory", budget.limits_memory),
        "pods": str(budget.pods),
    }
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "quota", "namespace": namespace, "labels": dict(MANAGED_BY)},
        "spec": {"hard": hard},
    }


def limit_range(namespace: str, defaults: ContainerDefaults = ContainerDefaults()) -> dict:
    """LimitRange `limits`: per-container defaults and maxima; defaultRequest <= default <= max."""
    _label("namespace", namespace)
    pairs = (("cpu", defaults.default_request_cpu, defaults.default_cpu, defaults.max_cpu),
             ("memory", defaults.default_request_memory, defaults.default_memory, defaults.max_memory))
    for resource, request, default, maximum in pairs:
        for field, value in (("default_request", request), ("default", default), ("max", maximum)):
            _quantity(f"defaults.{field}_{resource}", value)
        if parse_quantity(request) > parse_quantity(default):
            raise BudgetError(f"defaults.default_request_{resource}: {request} is above default {default}")
        if parse_quantity(default) > parse_quantity(maximum):
            raise BudgetError(f"defaults.default_{resource}: {default} is above max {maximum}")
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "limits", "namespace": namespace, "labels": dict(MANAGED_BY)},
        "spec": {"limits": [{
            "type": "Container",
            "default": {"cpu": defaults.default_cpu, "memory": defaults.default_memory},
            "defaultRequest": {"cpu": defaults.default_request_cpu, "memory": defaults.default_request_memory},
            "max": {"cpu": defaults.max_cpu, "memory": defaults.max_memory},
        }]},
    }


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
    raise BudgetError(f"unit: {unit!r} must be 'm' or 'Mi'")
