"""The lab's API server as the cluster the Kubernetes provider talks to: a control plane with
kwok nodes named as the stack's nodes, the workload controllers, the scheduler and the
ServiceLB stand-in (tools/lab/cluster.py), and the pinned charts served from the local chart
repository in ../shared/charts on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.cluster.cluster_cas import ClusterAccess
from components.config import read_stack_config
from components.pki import CaPems
from components.stack import kubernetes_layers
from tools.imitations.harness import stack_config
from tools.lab import cluster
from tools.paths import ROOT


def lab_for(stack: str) -> cluster.Lab:
    config = stack_config(stack)
    nodes = [(n.name, str(n.ip), dict(n.labels)) for n in (*config.cluster.servers, *config.cluster.agents)]
    return cluster.start(str(config.cluster.service_cidr), nodes=nodes)


def lab_access(lab: cluster.Lab) -> ClusterAccess:
    """The lab's own CA in the part of the cluster's: it serves the API server and vouches for
    client certificates, so the people's kubeconfigs reach the lab as they would k3s."""
    pki = Path(lab.workdir) / "pki"
    ca = (pki / "ca.crt").read_text()
    return ClusterAccess(cluster_name="k3s-cluster", api_url=lab.server, server_ca_pem=ca,
                         client_ca=CaPems(key_pem=pulumi.Output.secret((pki / "ca.key").read_text()), cert_pem=ca))


def objects_program(lab: cluster.Lab):
    """The system and platform layers of the stack on a provider for the lab's API server,
    with the people's certificates signed by the lab's CA; exports `peopleKubeconfigs`."""
    kubeconfig = Path(lab.kubeconfig).read_text()

    def program() -> None:
        config, secrets = read_stack_config()
        provider = k8s.Provider("lab", kubeconfig=kubeconfig, cluster_identifier="lab")
        root = pulumi.ComponentResource("k3s-platform:index:Platform", "k3s")
        layers = kubernetes_layers("k3s", config, secrets, provider, lab_access(lab),
                                   pulumi.ResourceOptions(parent=root))
        pulumi.export("peopleKubeconfigs", pulumi.Output.secret(layers.people.kubeconfigs))

    return program


def stack_file(stack: str, dest: Path, charts_url: str) -> Path:
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    doc["config"]["k3s-platform:charts"] = {"repository": charts_url}
    dest.write_text(yaml.safe_dump(doc, sort_keys=False))
    return dest
