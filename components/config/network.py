"""`network`: the networks the router serves (the LAN and its VLAN networks) and where
admins come from."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from pydantic import Field, field_validator, model_validator

from components.config.types import Int, Model
from components.grammar import Grammar

# A VLAN network's name: its resource names (`iface-<name>`) and its pfSense interface
# description (the name upper-cased), which pfSense takes only as a filter name.
_VLAN_NAME_RE = Grammar(r"[a-z][a-z0-9_]{0,15}")
# Interface descriptions pfSense refuses or that would read as another interface
# (pfSense's get_pf_reserved() words, and the ids of assigned interfaces).
_RESERVED_NAMES = frozenset({
    "lan", "wan", "any", "all", "self", "pass", "block", "reject", "in", "out", "on", "from", "to",
    "port", "proto", "queue", "max", "min", "pptp", "pppoe", "l2tp", "openvpn", "ipsec", "enc0", "lo0",
})
_OPT_ID_RE = Grammar(r"opt[0-9]+")
# The interface ids a VLAN parent may be (pfSense interface ids and NIC names).
_IFACE_RE = Grammar(r"[a-z][a-z0-9_.]{0,31}")


class DhcpRange(Model):
    start: IPv4Address
    end: IPv4Address

    @model_validator(mode="after")
    def _ordered(self) -> DhcpRange:
        if self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end} — swap them")
        return self

    def __contains__(self, ip: IPv4Address) -> bool:
        return self.start <= ip <= self.end


class Lan(Model):
    """The router's LAN (the nodes live on it unless `cluster.network` names a VLAN
    network). `gateway` is the router's LAN address."""

    cidr: IPv4Network
    gateway: IPv4Address
    dhcp_range: DhcpRange


class VlanNetwork(Model):
    """A network on an 802.1Q VLAN, served by the router like the LAN: the VLAN device on
    `parent`, its interface assignment with `gateway` (the router's address in `cidr`), a DHCP
    server for `dhcpRange` (default: no pool, static mappings only) handing out the router as
    DNS and NTP server, and firewall rules (docs/router.md, "VLAN networks"). `name`: lowercase
    letters, digits and `_` (pfSense shows it upper-cased as the interface's name).
    `description` goes to the VLAN device (default none). The switch ports are the operator's."""

    name: str
    tag: Int = Field(ge=1, le=4094)
    parent: str
    cidr: IPv4Network
    gateway: IPv4Address
    dhcp_range: DhcpRange | None = None
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _VLAN_NAME_RE.match(v):
            raise ValueError(
                f"name {v!r} is not a VLAN network name — use up to 16 lowercase letters, digits or '_', "
                "starting with a letter (pfSense makes it the interface name)")
        if v in _RESERVED_NAMES or _OPT_ID_RE.match(v) or v.startswith("pkg_"):
            raise ValueError(
                f"name {v!r} is reserved by pfSense (a filter keyword or an interface id) — pick another, "
                "e.g. 'nodes'")
        return v

    @field_validator("parent")
    @classmethod
    def _parent(cls, v: str) -> str:
        if not _IFACE_RE.match(v):
            raise ValueError(
                f"parent {v!r} is not a NIC or pfSense interface name — use the NIC the VLAN rides on, e.g. 'igc1'")
        return v

    @field_validator("description")
    @classmethod
    def _descr(cls, v: str) -> str:
        if len(v) > 200:
            raise ValueError("description is longer than 200 characters — shorten it")
        if any(not ch.isprintable() for ch in v):
            raise ValueError("description contains a line break or control character — keep it on one line")
        return v

    @property
    def device(self) -> str:
        """The VLAN device pfSense makes on the parent, `<parent>.<tag>`: what the interface
        assignment's `if` names."""
        return f"{self.parent}.{self.tag}"

    @property
    def interface_descr(self) -> str:
        return self.name.upper()


class Network(Model):
    """`adminCidrs`: where admins come from on the LAN side (LAN/VLANs); they may reach 6443
    and the dashboard. Do not list the VPN tunnel (`router.vpn.tunnelCidr`) or a range inside
    it: when the VPN is on, every VPN client is an admin source, with its rules on the
    OpenVPN interface (`StackConfig.admin_sources`); to cut one VPN admin off, move them to
    `router.vpn.revokedClients`.

    Each admin range must lie inside the private networks the platform owns (the LAN, the
    VLANs) and never lie inside the pod or service range. `allowPublicAdmin` (default false):
    accept an admin range outside them (a public office address, e.g. 203.0.113.7/32), which
    opens the API and the dashboard to all of it; the pod and service ranges stay refused.

    `vlans`: networks on 802.1Q VLANs, each one served by the router like the LAN.
    """

    lan: Lan
    vlans: tuple[VlanNetwork, ...] = Field(
        default=(), description="VLAN networks the router serves (default none); see VlanNetwork.")
    admin_cidrs: tuple[IPv4Network, ...] = Field(min_length=1)
    allow_public_admin: bool = Field(
        default=False,
        description="Accept admin ranges outside the private LAN and VLANs (exposes 6443 and the dashboard to them).")

    def named(self, name: str) -> Lan | VlanNetwork:
        """The network `name` names: `lan`, or a VLAN network (validated config names one)."""
        if name == "lan":
            return self.lan
        return next(v for v in self.vlans if v.name == name)
