"""The lab's API server as the cluster the Kubernetes provider talks to: a control plane with
kwok nodes named as the stack's nodes, the workload controllers, the scheduler and the
ServiceLB stand-in (tools/lab/cluster.py), and the pinned charts served from the local chart
repository in ../shared/charts on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.config import read_stack_config
from components.stack import kubernetes_layers
from tools.engine import inline
from tools.harness import stack_config
from tools.lab import cluster


def lab_for(stack: str) -> cluster.Lab:
    config = stack_config(stack)
    nodes = [(n.name, str(n.ip), dict(n.labels)) for n in (*config.cluster.servers, *config.cluster.agents)]
    return cluster.start(str(config.cluster.service_cidr), nodes=nodes)


def objects_program(kubeconfig: str):
    """The system and platform layers of the stack on a provider for the lab's API server."""

    def program() -> None:
        config, secrets = read_stack_config()
        provider = k8s.Provider("lab", kubeconfig=kubeconfig, cluster_identifier="lab")
        root = pulumi.ComponentResource("k3s-platform:index:Platform", "k3s")
        kubernetes_layers("k3s", config, secrets, provider, pulumi.ResourceOptions(parent=root))

    return program


def stack_file(stack: str, dest: Path, charts_url: str) -> Path:
    doc = yaml.safe_load((inline.REPO / f"Pulumi.{stack}.yaml").read_text())
    doc["config"]["k3s-platform:charts"] = {"repository": charts_url}
    dest.write_text(yaml.safe_dump(doc, sort_keys=False))
    return dest
