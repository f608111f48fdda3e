"""The system layer wired as Platform and the tenant component will wire it (see the report's
integration snippet): CertManager, TraefikStack, then per tenant a Namespace (stand-in for the
tenant component's), a NamespaceIssuer and a TlsRoute for the tenant's host set."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.config import read_stack_config
from components.system.cert_manager import CertManager
from components.system.namespace_issuer import NamespaceIssuer
from components.system.tls_route import TlsRoute
from components.system.traefik import TraefikStack


def system_program() -> None:
    config, secrets = read_stack_config()
    provider = k8s.Provider("k8s", kubeconfig="fake-kubeconfig")
    psa = config.cluster.kubernetes_minor

    cert_manager = CertManager("k3s-cert-manager", certificates=config.certificates,
                               psa_version=psa, provider=provider)
    traefik = TraefikStack(
        "k3s-traefik", ingress=config.ingress,
        admin_cidrs=[str(c) for c in config.admin_sources],
        trusted_proxies=[f"{config.network.lan.gateway}/32"] if config.cluster.ha else [],
        ha=config.cluster.ha, dashboard_password=secrets.dashboard_password,
        cert_manager=cert_manager, psa_version=psa, provider=provider)

    for tenant in config.tenants:
        ns = k8s.core.v1.Namespace(f"{tenant.name}-namespace", metadata={"name": tenant.name},
                                   opts=pulumi.ResourceOptions(provider=provider))
        issuer = NamespaceIssuer(f"{tenant.name}-issuer", namespace=tenant.name, cert_manager=cert_manager,
                                 provider=provider, depends_on=[ns])
        TlsRoute(f"{tenant.name}-route", hosts=list(tenant.hosts), service=tenant.name,
                 port=tenant.app_ports[0], issuer=issuer, traefik_chart=traefik.chart, provider=provider)
