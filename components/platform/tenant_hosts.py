"""TenantHosts: the API server enforces that tenants publish only their own hostnames.

Creates, as children: `<name>-policy` (ValidatingAdmissionPolicy) and `<name>-binding` (its
binding to every tenant namespace), from `host_ownership.py`. Cluster-scoped; one per stack.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import kube, names
from components.platform.host_ownership import admission_binding, admission_policy


class TenantHosts(pulumi.ComponentResource):
    def __init__(self, name: str, provider: k8s.Provider, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("k3s-platform:platform:TenantHosts", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        policy = kube.apply(names.child(name, "policy"), admission_policy(), child)
        kube.apply(names.child(name, "binding"), admission_binding(),
                   pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[policy])))
        self.register_outputs({})
