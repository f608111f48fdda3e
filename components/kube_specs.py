"""Kubernetes builders every layer shares (pure, wire-form dicts; no pulumi import).

- `namespace(name, labels=..., psa_version=...)`: a Namespace with Pod Security labels at
  `restricted` (or `baseline`) in all three modes, pinned to a Kubernetes minor;
- `resource_quota(namespace, hard, labels=...)`: the ResourceQuota `quota`;
- `limit_range(namespace, limits, labels=...)`: the LimitRange `limits` (per-container
  defaults and maxima) from any `ContainerLimits` — the config's `Limits`, for tenants and
  the system namespaces alike;
- `restricted_security_context()` and `restricted_pod_security_context(...)`: Pod Security
  `restricted`, written once for every workload and chart the program runs.

The system layer (Traefik, cert-manager namespaces) and the platform layer (tenants) call
these with their own names, labels and values. Inputs come from validated config or from
constants: nothing here checks them again (components/config/ rejects bad input).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

# Labels on what the program creates outside a tenant (system namespaces, Traefik objects).
MANAGED_BY = {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "k3s-platform"}
PSA_MODES = ("enforce", "audit", "warn")
RUNTIME_DEFAULT_SECCOMP = {"type": "RuntimeDefault"}


def pod_security_labels(level: str, psa_version: str) -> dict[str, str]:
    """Pod Security admission labels: `level` enforced, audited and warned, pinned to a minor
    (`v1.34`) so a cluster upgrade cannot tighten or loosen admission silently."""
    labels: dict[str, str] = {}
    for mode in PSA_MODES:
        labels[f"pod-security.kubernetes.io/{mode}"] = level
        labels[f"pod-security.kubernetes.io/{mode}-version"] = psa_version
    return labels


def namespace(name: str, *, labels: Mapping[str, str], psa_version: str, level: str = "restricted") -> dict:
    """A Namespace carrying `labels` and the Pod Security labels at `level`."""
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {**labels, **pod_security_labels(level, psa_version)}}}


def resource_quota(namespace: str, hard: Mapping[str, str], *, labels: Mapping[str, str]) -> dict:
    """ResourceQuota `quota` with `hard` limits, as given (callers choose keys and order)."""
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "quota", "namespace": namespace, "labels": dict(labels)},
        "spec": {"hard": dict(hard)},
    }


class ContainerLimits(Protocol):
    """Per-container defaults and maxima, as quantities (components/config's `Limits` is one;
    this floor sits below config, so it names the shape, not the model)."""

    @property
    def default_cpu(self) -> str: ...
    @property
    def default_memory(self) -> str: ...
    @property
    def default_request_cpu(self) -> str: ...
    @property
    def default_request_memory(self) -> str: ...
    @property
    def max_cpu(self) -> str: ...
    @property
    def max_memory(self) -> str: ...


def limit_range(namespace: str, limits: ContainerLimits, *, labels: Mapping[str, str]) -> dict:
    """LimitRange `limits`: per-container default limits, default requests and maxima."""
    item = {
        "type": "Container",
        "default": {"cpu": limits.default_cpu, "memory": limits.default_memory},
        "defaultRequest": {"cpu": limits.default_request_cpu, "memory": limits.default_request_memory},
        "max": {"cpu": limits.max_cpu, "memory": limits.max_memory},
    }
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "limits", "namespace": namespace, "labels": dict(labels)},
        "spec": {"limits": [item]},
    }


def restricted_security_context() -> dict:
    """A container's securityContext under Pod Security `restricted`: non-root, no privilege
    escalation, read-only root filesystem, every capability dropped. The seccomp profile is
    the pod's (`restricted_pod_security_context`), which every container inherits.
    Ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted"""
    return {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def restricted_pod_security_context(*, run_as: int | None = None, fs_group: int | None = None) -> dict:
    """The pod-level counterpart: non-root with the RuntimeDefault seccomp profile; `run_as`
    pins the user and group (for images that would run as root), `fs_group` the volume group."""
    context: dict = {"runAsNonRoot": True}
    if run_as is not None:
        context["runAsUser"] = run_as
        context["runAsGroup"] = run_as
    if fs_group is not None:
        context["fsGroup"] = fs_group
    context["seccompProfile"] = dict(RUNTIME_DEFAULT_SECCOMP)
    return context
