"""Small helpers shared by the system components: system namespaces and pinned charts.

(Builder dicts become resources through `components.kube.apply`.)

- `bounded_namespace(...)`: a system Namespace plus its ResourceQuota and LimitRange;
- `chart(...)`: a pinned `kubernetes.helm.v4.Chart` installed into an existing namespace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.system.budget import (
    Budget,
    limit_range,
    resource_quota,
    system_namespace,
)
from components.system.traefik_values import ChartPin


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
    ns = kube.apply(f"{prefix}-namespace", system_namespace(name, psa_version=psa_version),
                    pulumi.ResourceOptions(parent=parent, provider=provider))
    in_ns = pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=[ns])
    quota = kube.apply(f"{prefix}-quota", resource_quota(name, budget), in_ns)
    limits = kube.apply(f"{prefix}-limits", limit_range(name), in_ns)
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
