"""Platform: composes the layers of one stack — router -> cluster -> system -> platform.

Creates one component per layer, each a child of this one; the wiring (which outputs feed
which layer, and what must exist before what) lives here and nowhere else.
"""

from __future__ import annotations

import pulumi

from components.cluster.k3s_cluster import K3sCluster
from components.config import Secrets, StackConfig
from components.platform.rbac import Personas
from components.platform.tenant import Tenant

TRAEFIK_NAMESPACE = "traefik"


class Platform(pulumi.ComponentResource):
    def __init__(self, name: str, config: StackConfig, secrets: Secrets,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("k3s-platform:index:Platform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.cluster = K3sCluster(
            f"{name}-cluster", config.cluster, secrets.ssh_private_key,
            protect=config.cluster.ha, opts=child)
        provider = self.cluster.provider

        self.personas = Personas(f"{name}-personas", config.platops.group, provider, opts=child)
        self.tenants = [
            Tenant(f"{name}-{tenant.name}", tenant, psa_version=config.cluster.kubernetes_minor,
                   traefik_namespace=TRAEFIK_NAMESPACE, appops_role=self.personas.appops_role,
                   provider=provider, opts=child)
            for tenant in config.tenants
        ]

        self.register_outputs({"apiUrl": self.cluster.api_url})
