"""Builders and a `run_policy` helper that calls a policy's validator the way the
analyzer does: properties wrapped in pulumi-policy's unknown-checking proxies."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)
from pulumi_policy.proxy import unknown_checking_proxy

ROOT = Path(__file__).resolve().parents[2]

# The pack imports its modules as top-level `guardrails` (policies/ is the pack root).
if str(ROOT / "policies") not in sys.path:
    sys.path.insert(0, str(ROOT / "policies"))


def type_of(obj: dict) -> str:
    group, _, version = obj["apiVersion"].rpartition("/")
    return f"kubernetes:{group or 'core'}/{version}:{obj['kind']}"


def urn_of(obj: dict) -> str:
    meta = obj.get("metadata", {})
    name = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta.get("name")
    return f"urn:pulumi:test::k3s-platform::{type_of(obj)}::{name}"


def run_policy(policy: Any, objs: dict | list[dict], config: dict | None = None) -> list[tuple[str | None, str]]:
    """(urn, message) for each violation the policy reports on `objs`."""
    found: list[tuple[str | None, str]] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append((urn, message))

    if isinstance(policy, ResourceValidationPolicy):
        for obj in (objs if isinstance(objs, list) else [objs]):
            args = ResourceValidationArgs(type_of(obj), unknown_checking_proxy(copy.deepcopy(obj)),
                                          urn_of(obj), obj["metadata"]["name"], None, None, config)
            policy.validate(args, report)
    else:
        resources = [PolicyResource(type_of(o), unknown_checking_proxy(copy.deepcopy(o)), urn_of(o),
                                    o["metadata"]["name"], None, None, None, [], {})
                     for o in (objs if isinstance(objs, list) else [objs])]
        policy.validate(StackValidationArgs(resources, config), report)
    return found


def good_container(name: str = "app", image: str = "ghcr.io/example/app:1.2.3") -> dict:
    return {
        "name": name,
        "image": image,
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "readOnlyRootFilesystem": True},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
    }


def good_pod_spec() -> dict:
    return {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [good_container("init")],
        "containers": [good_container()],
    }


def pod(spec: dict | None = None, name: str = "web", namespace: str | None = "team-a") -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec or good_pod_spec()}


def workload(kind: str, spec: dict | None = None, name: str = "web", namespace: str = "team-a") -> dict:
    """A workload of `kind` wrapping the pod spec at the depth that kind uses."""
    template = {"metadata": {"labels": {"app": name}}, "spec": spec or good_pod_spec()}
    meta = {"name": name, "namespace": namespace}
    if kind == "Pod":
        return pod(spec, name, namespace)
    if kind == "CronJob":
        return {"apiVersion": "batch/v1", "kind": kind, "metadata": meta,
                "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}}}
    if kind == "Job":
        return {"apiVersion": "batch/v1", "kind": kind, "metadata": meta, "spec": {"template": template}}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta,
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": template}}


WORKLOAD_KINDS = ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"]
CONTAINER_LISTS = ["containers", "initContainers", "ephemeralContainers"]


def namespace(name: str, tenant: bool = True) -> dict:
    labels = {"k3s-platform/tenant": name} if tenant else {}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def quota(ns: str, hard: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "quota", "namespace": ns},
            "spec": {"hard": hard or {"requests.cpu": "2", "requests.memory": "4Gi",
                                      "limits.memory": "8Gi", "pods": "20"}}}


def limit_range(ns: str) -> dict:
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits", "namespace": ns},
            "spec": {"limits": [{"type": "Container", "default": {"memory": "256Mi"}}]}}


def default_deny(ns: str) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": ns},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}


def crb(name: str, subjects: list[dict], role: str = "cluster-admin") -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": subjects}


def messages(found: list[tuple[str | None, str]]) -> list[str]:
    """The messages of `run_policy`'s findings, without their URNs."""
    return [m for _, m in found]
