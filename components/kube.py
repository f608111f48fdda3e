"""Create a typed pulumi-kubernetes resource from a wire-form object built by a pure spec.

Specs return plain dicts (`apiVersion`, `kind`, `metadata`, `spec`, ...) so that they can be
golden-tested and schema-validated; this maps each to its typed SDK class (so the engine sees
`kubernetes:core/v1:Namespace`, not a generic resource) with its top-level fields as keyword
arguments. Nested keys stay camelCase: the SDK passes them through unchanged.
"""

from __future__ import annotations

import re
from typing import TypeVar

import pulumi
import pulumi_kubernetes as k8s

KINDS = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ResourceQuota"): k8s.core.v1.ResourceQuota,
    ("v1", "LimitRange"): k8s.core.v1.LimitRange,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("batch/v1", "Job"): k8s.batch.v1.Job,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): k8s.rbac.v1.ClusterRole,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): k8s.rbac.v1.ClusterRoleBinding,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"):
        k8s.admissionregistration.v1.ValidatingAdmissionPolicy,
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"):
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding,
}

R = TypeVar("R", bound=pulumi.CustomResource)


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


def apply(name: str, obj: dict, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """Register `obj` as its typed resource named `name`."""
    cls = KINDS.get((obj["apiVersion"], obj["kind"]))
    if cls is None:
        return apply_custom(name, obj, opts)
    return apply_as(cls, name, obj, opts)


def apply_as(cls: type[R], name: str, obj: dict, opts: pulumi.ResourceOptions) -> R:
    """Register `obj`, a built-in kind, as `cls` (its class in KINDS): for callers that keep the typed resource."""
    if KINDS.get((obj["apiVersion"], obj["kind"])) is not cls:
        raise ValueError(f"{obj['apiVersion']} {obj['kind']} is not a {cls.__name__}")
    fields = {_snake(k): v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    return cls(name, **fields, opts=opts)


def apply_custom(name: str, obj: dict, opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    """Register `obj`, a custom resource (Traefik, cert-manager), with the generic class that keeps the wire form."""
    fields = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    return k8s.apiextensions.CustomResource(
        name, api_version=obj["apiVersion"], kind=obj["kind"], metadata=obj["metadata"],
        opts=opts, **fields)
