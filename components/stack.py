"""Platform: composes the layers of one stack — router -> cluster -> system -> platform.

Creates one component per layer, each a child of this one; the wiring (which outputs feed
which layer, and what must exist before what) lives here and nowhere else.
"""

from __future__ import annotations

import pulumi

from components.cluster.k3s_cluster import K3sCluster
from components.config import Secrets, StackConfig
from components.network import Router, RouterInventory, RouterNode
from components.platform.rbac import Personas
from components.platform.tenant import Tenant
from components.system.cert_manager import CertManager
from components.system.traefik import TraefikStack


def router_inventory(config: StackConfig) -> RouterInventory:
    """One node list and one host list drive leases, DNS, NAT and HAProxy backends."""
    cluster, lan = config.cluster, config.network.lan
    nodes = tuple(RouterNode(n.name, str(n.ip), n.mac, "server") for n in cluster.servers) + tuple(
        RouterNode(n.name, str(n.ip), n.mac, "agent") for n in cluster.agents)
    # prod: HAProxy on the router fronts the API and ingress; dev: the single node serves both.
    front = str(lan.gateway) if cluster.ha else str(cluster.servers[0].ip)
    return RouterInventory(
        domain=config.domain, nodes=nodes, ingress_hosts=config.ingress_hosts,
        api_hostname=cluster.api_hostname, ingress_address=front, api_address=front,
        lan_cidr=str(lan.cidr), lan_address=str(lan.gateway), ha=cluster.ha, proxy_protocol=cluster.ha,
        admin_cidrs=tuple(str(c) for c in config.network.admin_cidrs))


class Platform(pulumi.ComponentResource):
    def __init__(self, name: str, config: StackConfig, secrets: Secrets,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("k3s-platform:index:Platform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.router = Router(f"{name}-router", config.router, router_inventory(config),
                             secrets.pfsense_api_key, opts=child)

        # Joiners register through apiHostname: its DNS override (and HAProxy in prod) first.
        self.cluster = K3sCluster(
            f"{name}-cluster", config.cluster, secrets.ssh_private_key,
            endpoint_ready=self.router.ready, protect=config.cluster.ha, opts=child)
        provider = self.cluster.provider
        psa = config.cluster.kubernetes_minor
        charts = str(config.charts.repository).rstrip("/") if config.charts.repository else None

        self.cert_manager = CertManager(
            f"{name}-cert-manager", certificates=config.certificates, psa_version=psa,
            provider=provider, chart_repository=charts, opts=child)
        self.traefik = TraefikStack(
            f"{name}-traefik", ingress=config.ingress,
            admin_cidrs=[str(c) for c in config.network.admin_cidrs],
            # PROXY protocol and forwarded headers only from the router's HAProxy (prod).
            trusted_proxies=[f"{config.network.lan.gateway}/32"] if config.cluster.ha else [],
            ha=config.cluster.ha, dashboard_password=secrets.dashboard_password,
            cert_manager=self.cert_manager, psa_version=psa, provider=provider,
            chart_repository=charts, opts=child)

        self.personas = Personas(f"{name}-personas", config.platops.group, provider, opts=child)
        self.tenants = [
            Tenant(f"{name}-{tenant.name}", tenant, psa_version=psa,
                   appops_role=self.personas.appops_role, cert_manager=self.cert_manager,
                   traefik=self.traefik, provider=provider, opts=child)
            for tenant in config.tenants
        ]

        self.register_outputs({"apiUrl": self.cluster.api_url})
