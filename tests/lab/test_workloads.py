"""Scenario (6b): the pods the stack's workloads would create are admitted where they land.

With no controllers for Deployments or Jobs in the lab, the API server never sees their pods;
this test creates them itself — every replica of every Deployment/StatefulSet, one pod per Job
and per DaemonSet — from the pod templates of the plan's objects and of the charts rendered
with the program's values, in their namespaces, through the real admission chain (Pod
Security `restricted`, LimitRanger defaults and maximums, ResourceQuota usage, ServiceAccount).
Pods are really created (never run: no kubelet), so the quota sees them all together.
"""

from __future__ import annotations

import json

import yaml

from tests.lab.conftest import NOTES


def workload_pods(result) -> list[tuple[str, dict]]:
    """(label, pod) for every pod the workloads would start."""
    objects = [(yaml.safe_load(p.read_text()), None) for p in sorted((result.plan_dir / "manifests").rglob("*.yaml"))]
    objects += [(o, o["metadata"].get("lab/release-namespace")) for o in result.chart_objects]
    pods = []
    for obj, release_ns in objects:
        kind = obj.get("kind")
        spec = obj.get("spec") or {}
        if kind in ("Deployment", "StatefulSet"):
            template, count = spec["template"], spec.get("replicas", 1)
        elif kind in ("Job", "DaemonSet"):
            template, count = spec["template"], 1
        elif kind == "CronJob":
            template, count = spec["jobTemplate"]["spec"]["template"], 1
        else:
            continue
        ns = obj["metadata"].get("namespace") or release_ns
        name = obj["metadata"]["name"]
        for i in range(count):
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": f"{name}-lab-{i}", "namespace": ns,
                                "labels": (template.get("metadata") or {}).get("labels") or {},
                                "annotations": (template.get("metadata") or {}).get("annotations") or {}},
                   "spec": template["spec"]}
            pods.append((f"{ns}/{kind} {name} pod {i + 1}/{count}", pod))
    return pods


def test_every_workload_pod_is_admitted(stack_lab):
    lab, result = stack_lab
    pods = workload_pods(result)
    assert pods, f"{result.stack}: no workloads found"
    refused, warned = [], []
    for label, pod in pods:
        proc = lab.kubectl("create", "-f", "-", "-o", "name", input=yaml.safe_dump(pod))
        if proc.returncode != 0:
            refused.append(f"{label}: {proc.stderr.strip()}")
        warned += [f"{label}: {line}" for line in proc.stderr.splitlines() if line.startswith("Warning:")]
    # What the quotas hold once every pod is in (reported, not asserted).
    quotas = json.loads(lab.kubectl("get", "resourcequota", "-A", "-o", "json", check=True).stdout)["items"]
    for q in quotas:
        status = q.get("status") or {}
        used = ", ".join(f"{k} {status.get('used', {}).get(k, '?')}/{v}" for k, v in sorted((status.get("hard") or {}).items())
                         if k.startswith(("requests.", "limits.", "pods")))
        NOTES.append(f"{result.stack}: quota {q['metadata']['namespace']}/{q['metadata']['name']} after "
                     f"{len(pods)} workload pods: {used}")
    NOTES.extend(f"{result.stack}: {w}" for w in warned)
    assert not refused, f"{result.stack}: {len(refused)} of {len(pods)} workload pods REFUSED:\n" + "\n".join(refused)
