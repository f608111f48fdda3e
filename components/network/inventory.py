"""What the router must know about the rest of the platform (plain, frozen data).

Creates nothing. `Platform` builds one `RouterInventory` from the cluster config (node
names, IPs, MACs, roles) and the ingress/tenant config (hostnames), so a single node list
drives DHCP leases, DNS overrides, HAProxy backends and k3s `tls-san`.

`__post_init__` checks the facts the payloads rely on and raises ValueError with
"what is wrong — how to fix it"; cross-checks that need the whole stack config (IPs outside
DHCP ranges, hostnames under the domains) belong to `components/config.py`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def normalize_mac(mac: str) -> str:
    """Lowercase, colon-separated MAC: the natural key of a DHCP static mapping."""
    value = mac.strip().lower().replace("-", ":")
    if not _MAC_RE.match(value):
        raise ValueError(f"mac {mac!r} is not a MAC address — write it as aa:bb:cc:dd:ee:ff")
    return value


def _check_fqdn(name: str, field: str) -> None:
    labels = name.split(".")
    if len(labels) < 2 or not all(_LABEL_RE.match(label) for label in labels):
        raise ValueError(
            f"{field} {name!r} is not a lowercase DNS name — use e.g. app.home.example.org"
        )


@dataclass(frozen=True)
class RouterNode:
    """A k3s node as the router sees it. role: "server" or "agent"."""

    name: str
    ip: str
    mac: str
    role: Literal["server", "agent"]

    def __post_init__(self) -> None:
        if not _LABEL_RE.match(self.name):
            raise ValueError(
                f"node name {self.name!r} is not a DNS label — use lowercase letters, digits and '-'"
            )
        try:
            ipaddress.IPv4Address(self.ip)
        except ValueError:
            raise ValueError(f"node {self.name}: ip {self.ip!r} is not an IPv4 address") from None
        object.__setattr__(self, "mac", normalize_mac(self.mac))
        if self.role not in ("server", "agent"):
            raise ValueError(f"node {self.name}: role {self.role!r} — use 'server' or 'agent'")


@dataclass(frozen=True)
class RouterInventory:
    """Node and hostname facts the router payloads are rendered from.

    - domain: DNS domain of the LAN, e.g. home.example.org.
    - nodes: every k3s node (one DHCP static mapping each).
    - ingress_hosts: every tenant host plus the dashboard host (one DNS override each).
    - api_hostname / api_address: the Kubernetes API name and where it resolves.
    - ingress_address: where 80/443 land inside (dev: the node; prod: the router LAN IP).
    - lan_cidr / lan_address: the LAN network and the router's LAN IP.
    - ha: prod: HAProxy in front of the servers; dev: NAT straight to the single node.
    - proxy_protocol: HAProxy sends PROXY v2 to Traefik on 80/443 (prod only).
    - admin_cidrs: admin LAN/VLAN/VPN ranges allowed to 6443 and the dashboard (the same
      list feeds Traefik's dashboard allow-list; default none).
    """

    domain: str
    nodes: tuple[RouterNode, ...]
    ingress_hosts: tuple[str, ...]
    api_hostname: str
    ingress_address: str
    api_address: str
    lan_cidr: str
    lan_address: str
    ha: bool = False
    proxy_protocol: bool = False
    admin_cidrs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_fqdn(self.domain, "domain")
        if not self.nodes:
            raise ValueError("nodes is empty — the router needs at least one k3s node")
        lan = ipaddress.IPv4Network(self.lan_cidr, strict=False)
        for field in ("ingress_address", "api_address", "lan_address"):
            value = getattr(self, field)
            try:
                addr = ipaddress.IPv4Address(value)
            except ValueError:
                raise ValueError(f"{field} {value!r} is not an IPv4 address") from None
            if addr not in lan:
                raise ValueError(f"{field} {value} is outside lan_cidr {lan} — use an address in the LAN")
        for node in self.nodes:
            if ipaddress.IPv4Address(node.ip) not in lan:
                raise ValueError(f"node {node.name}: ip {node.ip} is outside lan_cidr {lan}")
        for attr in ("name", "ip", "mac"):
            values = [getattr(n, attr) for n in self.nodes]
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ValueError(f"node {attr}s {dupes} are used twice — each node needs its own")
        if not any(n.role == "server" for n in self.nodes):
            raise ValueError("no node has role 'server' — mark at least one node as a server")
        _check_fqdn(self.api_hostname, "api_hostname")
        for host in self.ingress_hosts:
            _check_fqdn(host, "ingress host")
        if len(set(self.ingress_hosts)) != len(self.ingress_hosts):
            raise ValueError("ingress_hosts has duplicates — list each hostname once")
        if self.api_hostname in self.ingress_hosts:
            raise ValueError(
                f"api_hostname {self.api_hostname} is also an ingress host — give the API its own name"
            )
        if self.proxy_protocol and not self.ha:
            raise ValueError(
                "proxy_protocol needs ha — PROXY protocol is sent by HAProxy, which only runs in HA mode"
            )

    @property
    def servers(self) -> tuple[RouterNode, ...]:
        return tuple(n for n in self.nodes if n.role == "server")
