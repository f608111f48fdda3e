"""Small helpers shared by the system components: system namespaces and pinned charts.

(Builder dicts become resources through `components.kube`.)

- `bounded_namespace(...)`: a system Namespace plus its ResourceQuota and LimitRange;
- `chart(...)`: a pinned chart as a `kubernetes.helm.v3.Release` in an existing namespace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import kube, names
from components.system.budget import (
    Budget,
    limit_range,
    resource_quota,
    system_namespace,
)
from components.system.chart_pin import ChartPin


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
    ns = kube.apply_as(k8s.core.v1.Namespace, names.child(prefix, "namespace"),
                       system_namespace(name, psa_version=psa_version),
                       pulumi.ResourceOptions(parent=parent, provider=provider))
    in_ns = pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=[ns])
    quota = kube.apply_as(k8s.core.v1.ResourceQuota, names.child(prefix, "quota"), resource_quota(name, budget), in_ns)
    limits = kube.apply_as(k8s.core.v1.LimitRange, names.child(prefix, "limits"), limit_range(name), in_ns)
    return BoundedNamespace(ns, quota, limits)


def chart(resource_name: str, pin: ChartPin, *, namespace: BoundedNamespace, values: dict,
          provider: k8s.Provider, parent: pulumi.Resource, repository: str | None = None,
          depends_on: Sequence[pulumi.Resource] = ()) -> k8s.helm.v3.Release:
    """The pinned chart as a Helm release `pin.chart` in the namespace (which it must not create).

    A `helm.v3.Release` is a custom resource: unlike the `helm.v4.Chart` component it can be
    previewed while the cluster's kubeconfig is still unknown — every first preview, and any
    preview that reinstalls the first server (docs/adr/0005). `repository` overrides the
    chart's official repository (an air-gapped mirror that serves both charts).
    """
    return k8s.helm.v3.Release(
        resource_name,
        chart=pin.chart,
        version=pin.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repository or pin.repo),
        name=pin.chart,  # release name: the chart's fullname (and the ingress class) stays `traefik`
        namespace=namespace.namespace.metadata["name"],
        create_namespace=False,
        values=values,
        # Wait for every object, hooks and Jobs included, before dependents run; a failed
        # upgrade removes what it created, so a retry starts clean.
        wait_for_jobs=True,
        cleanup_on_fail=True,
        timeout=600,
        max_history=10,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider,
                                    depends_on=[*namespace.ready, *depends_on]))
