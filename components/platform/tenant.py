"""Tenant: one application team's namespace, fenced in.

Creates, as children `<name>-<role>`: the Namespace (Pod Security `restricted`, pinned to the
cluster's minor), its ResourceQuota and LimitRange, the NetworkPolicies (default deny plus
named allows), the AppOps RoleBinding, the namespace's cert-manager Issuer, a Certificate for
the tenant's hosts, and — when the tenant asks for it — the sample app and its IngressRoute.
Everything namespaced depends on the Namespace; the Issuer and the other custom resources on
the chart that installs their CRDs.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components import kube, names
from components.config import Tenant as TenantConfig
from components.platform.sample_app import APP
from components.platform.tenant_objects import tenant_objects
from components.system.cert_manager import CertManager
from components.system.namespace_issuer import NamespaceIssuer
from components.system.tls_route import TlsRoute
from components.system.traefik import TraefikStack


class Tenant(pulumi.ComponentResource):
    """Args:
        tenant: the tenant's validated config.
        psa_version: Pod Security version label, the cluster's minor (e.g. "v1.34").
        appops_role: the AppOps ClusterRole resource the RoleBinding refers to.
        cert_manager / traefik: the system layer (Issuer and routes depend on their charts).
        provider: the cluster's Kubernetes provider.
    """

    def __init__(self, name: str, tenant: TenantConfig, *, psa_version: str,
                 appops_role: pulumi.Resource, cert_manager: CertManager, traefik: TraefikStack,
                 provider: k8s.Provider, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("k3s-platform:platform:Tenant", name, None, opts)
        objects = tenant_objects(tenant, psa_version=psa_version, traefik_namespace=traefik.namespace)

        def child(depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on))

        namespace = kube.apply(names.child(name, "namespace"), objects.pop("namespace"), child())
        self.namespace = tenant.name
        appops = objects.pop("appops")
        self.resources: dict[str, pulumi.Resource] = {"namespace": namespace}
        for role, obj in objects.items():
            self.resources[role] = kube.apply(names.child(name, role), obj, child([namespace]))
        self.resources["appops"] = kube.apply(names.child(name, "appops"), appops, child([namespace, appops_role]))

        # One Issuer per namespace: Traefik reads TLS secrets from the route's own namespace.
        self.issuer = NamespaceIssuer(
            names.child(name, "issuer"), namespace=tenant.name, cert_manager=cert_manager, provider=provider,
            depends_on=[namespace], opts=pulumi.ResourceOptions(parent=self))
        # One Certificate per host set, always (secret `<tenant>-tls`, Middleware
        # `<tenant>-headers`); the IngressRoute only when the sample app is its backend.
        app = tenant.sample_app
        self.route = TlsRoute(
            names.child(name, "route"), hosts=list(tenant.hosts), service=APP if app else None,
            port=app.port if app else None, issuer=self.issuer, traefik_chart=traefik.chart,
            provider=provider, depends_on=[self.resources["app-service"]] if app else [],
            opts=pulumi.ResourceOptions(parent=self))

        self.register_outputs({"namespace": self.namespace})
