"""Small helpers shared by the system components: turn builder dicts into Pulumi resources.

- `custom_resource(resource_name, obj, opts)`: a `kubernetes.apiextensions.CustomResource`
  from a wire-form dict (apiVersion, kind, metadata, spec);
- `bounded_namespace(...)`: a system Namespace plus its ResourceQuota and LimitRange;
- `chart(...)`: a pinned `kubernetes.helm.v4.Chart` installed into an existing namespace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.system.budget import Budget, limit_range, resource_quota, system_namespace
from components.system.traefik_values import ChartPin


def custom_resource(resource_name: str, obj: dict, opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        resource_name, api_version=obj["apiVersion"], kind=obj["kind"],
        metadata=obj["metadata"], spec=obj["spec"], opts=opts)


@dataclass
class BoundedNamespace:
    namespace: k8s.core.v1.Namespace
    quota: k8s.core.v1.ResourceQuota
    limits: k8s.core.v1.LimitRange

    @property
    def ready(self) -> list[pulumi.Resource]:
        """What a workload in the namespace must wait for (LimitRange defaults apply at admission)."""
        return [self.namespace, self.quota, self.limits]


def bounded_namespace(prefix: str, name: str, *, psa_version: str, budget: Budget,
                      provider: k8s.Provider, parent: pulumi.Resource) -> BoundedNamespace:
    ns_obj = system_namespace(name, psa_version=psa_version)
    ns = k8s.core.v1.Namespace(f"{prefix}-namespace", metadata=ns_obj["metadata"],
                               opts=pulumi.ResourceOptions(parent=parent, provider=provider))
    in_ns = pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=[ns])
    q = resource_quota(name, budget)
    quota = k8s.core.v1.ResourceQuota(f"{prefix}-quota", metadata=q["metadata"], spec=q["spec"], opts=in_ns)
    lr = limit_range(name)
    limits = k8s.core.v1.LimitRange(f"{prefix}-limits", metadata=lr["metadata"], spec=lr["spec"], opts=in_ns)
    return BoundedNamespace(ns, quota, limits)


def chart(resource_name: str, pin: ChartPin, *, namespace: BoundedNamespace, values: dict,
          provider: k8s.Provider, parent: pulumi.Resource,
          depends_on: Sequence[pulumi.Resource] = ()) -> k8s.helm.v4.Chart:
    """The pinned chart, released as `pin.chart` in the namespace (which the chart must not create)."""
    return k8s.helm.v4.Chart(
        resource_name,
        chart=pin.chart,
        version=pin.version,
        repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=pin.repo),
        name=pin.chart,  # release name: the chart's fullname (and the ingress class) stays `traefik`
        namespace=namespace.namespace.metadata["name"],
        values=values,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider,
                                    depends_on=[*namespace.ready, *depends_on]))
