"""Tenant: one application team's namespace, fenced in.

Creates, as children `<name>-<role>`: the Namespace (Pod Security `restricted`, pinned to the
cluster's minor), its ResourceQuota and LimitRange, the NetworkPolicies (default deny plus
named allows), the AppOps RoleBinding, the namespace's cert-manager Issuer, and — when the
tenant asks for it — the sample app with its Certificate and IngressRoute.
Everything namespaced depends on the Namespace; the Issuer and the other custom resources on
the chart that installs their CRDs.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from components import kube
from components.config import Tenant as TenantConfig
from components.platform.tenant_objects import tenant_objects


class Tenant(pulumi.ComponentResource):
    """Args:
        tenant: the tenant's validated config.
        psa_version: Pod Security version label, the cluster's minor (e.g. "v1.34").
        traefik_namespace: where Traefik runs (its pods may reach the app ports).
        appops_role: the AppOps ClusterRole resource the RoleBinding refers to.
        tls: a callable (namespace, hosts, depends_on) -> (tls_secret_name, resources) that
            makes the namespace Issuer and Certificate; None to skip certificates.
        routes: a callable making the IngressRoute for the sample app; None to skip.
    """

    def __init__(self, name: str, tenant: TenantConfig, *, psa_version: str, traefik_namespace: str,
                 appops_role: pulumi.Resource, provider: pulumi.ProviderResource,
                 tls=None, routes=None, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("k3s-platform:platform:Tenant", name, None, opts)
        objects = tenant_objects(tenant, psa_version=psa_version, traefik_namespace=traefik_namespace)

        def child(depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on))

        namespace = kube.apply(f"{name}-namespace", objects.pop("namespace"), child())
        self.namespace = tenant.name
        appops = objects.pop("appops")
        self.resources: dict[str, pulumi.Resource] = {"namespace": namespace}
        for role, obj in objects.items():
            self.resources[role] = kube.apply(f"{name}-{role}", obj, child([namespace]))
        self.resources["appops"] = kube.apply(f"{name}-appops", appops, child([namespace, appops_role]))

        if tls is not None:
            self.tls_secret = tls(self, tenant.name, list(tenant.hosts), [namespace])
            if routes is not None and tenant.sample_app:
                routes(self, tenant, self.tls_secret, [self.resources["app-service"]])

        self.register_outputs({"namespace": self.namespace})
