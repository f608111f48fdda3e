"""Clusters and members for the renderer tests, built the way the program builds them.

`cluster(...)` is a validated `Cluster` (the config model the renderers take); `member(...)`
is a `Member` built directly, without validation, so tests can hand the renderers names and
values the config's grammars would refuse.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from components.config import Cluster, Member, Role


def cluster(*, servers: int = 1, api_hostname: str = "k8s.home.example.org", **fields: Any) -> Cluster:
    """A cluster of `servers` servers (HA from two on) in 192.168.10.0/24; `fields` are
    further keys of `cluster` as the stack file spells them (camelCase)."""
    nodes = [{"name": f"cp{i}", "ip": f"192.168.10.1{i}", "mac": f"52:54:00:00:10:1{i}"}
             for i in range(1, servers + 1)]
    return Cluster.model_validate({
        "k3sVersion": "v1.34.2+k3s1", "certificateAuthorities": "program", "apiHostname": api_hostname,
        "ssh": {"user": "k3s"}, "servers": nodes, **fields})


def member(name: str, ip: str, role: Role = "server", **fields: Any) -> Member:
    return Member(name=name, ip=IPv4Address(ip), role=role, **fields)
