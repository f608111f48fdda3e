"""Personas: the cluster-wide half of the RBAC split.

Creates `<name>-appops-role` (the AppOps ClusterRole that each Tenant binds in its own
namespace) and `<name>-platops-binding` (the PlatOps group bound to `cluster-admin`).
"""

from __future__ import annotations

import pulumi

from components import kube, names
from components.platform import rbac


class Personas(pulumi.ComponentResource):
    def __init__(self, name: str, platops_group: str, provider: pulumi.ProviderResource,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("k3s-platform:platform:Personas", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        self.appops_role = kube.apply(names.child(name, "appops-role"), rbac.appops_cluster_role(), child)
        self.platops_binding = kube.apply(
            names.child(name, "platops-binding"), rbac.platops_cluster_role_binding(platops_group), child)
        self.register_outputs({})
