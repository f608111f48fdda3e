"""`platops`, `tenants`, `people`: the platform layer's personas, tenant namespaces and the
people who log in."""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Literal

from pydantic import Field

from components.config.types import DnsLabel, GroupName, Hostname, ImageRef, Int, Model, PersonName, Port, Quantity

RESERVED_NAMESPACES = frozenset(
    {"default", "kube-system", "kube-public", "kube-node-lease", "traefik", "cert-manager"}
)



class Quota(Model):
    """ResourceQuota hard limits. Defaults suit a small app."""

    requests_cpu: Quantity = "2"
    requests_memory: Quantity = "4Gi"
    limits_cpu: Quantity = "4"
    limits_memory: Quantity = "8Gi"
    pods: Int = Field(default=20, ge=1)
    persistent_volume_claims: Int = Field(default=5, ge=0)
    requests_storage: Quantity = "20Gi"


class Limits(Model):
    """LimitRange per container: defaults and maxima."""

    default_cpu: Quantity = "500m"
    default_memory: Quantity = "512Mi"
    default_request_cpu: Quantity = "100m"
    default_request_memory: Quantity = "128Mi"
    max_cpu: Quantity = "2"
    max_memory: Quantity = "2Gi"


class EgressAllow(Model):
    cidr: IPv4Network
    ports: tuple[Port, ...] = Field(min_length=1)
    protocol: Literal["TCP", "UDP"] = "TCP"


class SampleApp(Model):
    """The whoami-style demo workload that proves the path end to end."""

    image: ImageRef = "traefik/whoami:v1.11.0"
    port: Port = 8080
    replicas: Int = Field(default=1, ge=1)


class Tenant(Model):
    name: DnsLabel
    hosts: tuple[Hostname, ...] = Field(min_length=1)
    group: GroupName | None = None
    app_ports: tuple[Port, ...] = (8080,)
    quota: Quota = Quota()
    limits: Limits = Limits()
    egress: tuple[EgressAllow, ...] = ()
    sample_app: SampleApp | None = None

    @property
    def appops_group(self) -> str:
        """The AppOps group of this tenant (default `<name>-appops`)."""
        return self.group or f"{self.name}-appops"


class PlatOps(Model):
    """The PlatOps group, bound cluster-wide (default `platops`)."""

    group: GroupName = "platops"



class Person(Model):
    """Someone who logs in with a client certificate the program issues (CN = `name`, no
    group) and the RBAC bindings to that name: `platops` is bound to cluster-admin,
    `appops` to the AppOps role in each of `tenants` (required for appops, refused for
    platops). Removing a person from the config deletes their bindings at the next `up`, which
    is what revokes their access: a client certificate cannot be revoked."""

    name: PersonName
    role: Literal["platops", "appops"]
    tenants: tuple[DnsLabel, ...] = ()
