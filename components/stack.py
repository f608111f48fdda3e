"""Platform: composes the layers of one stack — router -> cluster -> system -> platform.

Creates one component per layer, each a child of this one; the wiring (which outputs feed
which layer, and what must exist before what) lives here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network

import pulumi
import pulumi_kubernetes as k8s

from components import names
from components.cluster.cluster_cas import ClusterAccess
from components.cluster.k3s_cluster import K3sCluster
from components.config import Secrets, StackConfig
from components.network import Router
from components.platform.people import People
from components.platform.personas import Personas
from components.platform.tenant import Tenant
from components.platform.tenant_hosts import TenantHosts
from components.system.cert_manager import CertManager
from components.system.traefik import TraefikStack


@dataclass(frozen=True)
class KubernetesLayers:
    cert_manager: CertManager
    traefik: TraefikStack
    personas: Personas
    tenants: list[Tenant]
    people: People


def kubernetes_layers(name: str, config: StackConfig, secrets: Secrets, provider: k8s.Provider,
                      access: ClusterAccess, child: pulumi.ResourceOptions) -> KubernetesLayers:
    """The system and platform layers on the cluster's provider (`child`: their parent);
    `access` signs the people's certificates and names the cluster in their kubeconfigs."""
    psa = config.cluster.kubernetes_minor
    charts = str(config.charts.repository).rstrip("/") if config.charts.repository else None
    cert_manager = CertManager(
        names.child(name, "cert-manager"), certificates=config.certificates, psa_version=psa,
        provider=provider, chart_repository=charts, opts=child)
    traefik = TraefikStack(
        names.child(name, "traefik"), ingress=config.ingress,
        admin_cidrs=config.admin_sources,
        # PROXY protocol and forwarded headers only from the router's HAProxy (prod), which
        # reaches the nodes from its address on their network.
        trusted_proxies=[IPv4Network(config.node_gateway)] if config.cluster.ha else [],
        ha=config.cluster.ha, dashboard_password=secrets.dashboard_password,
        cert_manager=cert_manager, psa_version=psa, provider=provider,
        chart_repository=charts, nodes=config.ingress_nodes, opts=child)
    personas = Personas(names.child(name, "personas"), config.platops.group, provider, opts=child)
    TenantHosts(names.child(name, "tenant-hosts"), provider, opts=child)
    tenants = [
        Tenant(names.child(name, tenant.name), tenant, psa_version=psa,
               appops_role=personas.appops_role, cert_manager=cert_manager,
               traefik=traefik, provider=provider, opts=child)
        for tenant in config.tenants
    ]
    people = People(names.child(name, "people"), config.people, access, appops_role=personas.appops_role,
                    tenant_namespaces={t.namespace: t.resources["namespace"] for t in tenants},
                    provider=provider, opts=child)
    return KubernetesLayers(cert_manager, traefik, personas, tenants, people)


class Platform(pulumi.ComponentResource):
    def __init__(self, name: str, config: StackConfig, secrets: Secrets,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("k3s-platform:index:Platform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.router = Router(names.child(name, "router"), config.router, config.router_inventory,
                             secrets.pfsense_api_key, opts=child)

        # Joiners register through apiHostname: its DNS override (and HAProxy in prod) first.
        self.cluster = K3sCluster(
            names.child(name, "cluster"), config.cluster, secrets.ssh_private_key,
            endpoint_ready=self.router.ready, protect=config.cluster.ha,
            etcd_s3_credentials=secrets.etcd_s3_credentials, registry_auth=secrets.registry_auth, opts=child)
        layers = kubernetes_layers(name, config, secrets, self.cluster.provider, self.cluster.access, child)
        self.cert_manager, self.traefik = layers.cert_manager, layers.traefik
        self.personas, self.tenants, self.people = layers.personas, layers.tenants, layers.people

        self.register_outputs({"apiUrl": self.cluster.api_url})
