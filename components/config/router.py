"""`router`: how to reach pfSense and what the router owns besides node/host data (VLANs,
the OpenVPN server); and `RouterInventory`, the facts about the rest of the platform the
router payloads are rendered from, computed by `StackConfig.router_inventory`.

Creates nothing. The API key is not here: it is the separate secret
`k3s-platform:pfsenseApiKey`. Validator messages read "what is wrong — how to fix it".
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import ssl
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from components.config.cluster import Member
from components.config.network import VlanNetwork
from components.config.types import Int, Model, Port, Seconds
from components.grammar import Grammar

# pfSense interface identifiers ("wan", "lan", "opt1") and physical NIC names ("igc0").
_IFACE_RE = Grammar(r"[a-z][a-z0-9_.]{0,31}")
# Names that end up in certificate CNs and pfSense descriptions (no quotes, slashes, spaces).
_CLIENT_RE = Grammar(r"[a-z0-9][a-z0-9._-]{0,62}")
# What a client profile's `remote` line may name: a DNS name or an IPv4 address.
_ENDPOINT_RE = Grammar(
    r"(?=.{1,253}\Z)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*"
)
_PEM_BLOCK_RE = re.compile(r"-----BEGIN CERTIFICATE-----\s*(.*?)-----END CERTIFICATE-----", re.S)


def pem_certificates_problem(text: str) -> str | None:
    """Why `text` is not one or more PEM certificates (and nothing else), or None."""
    blocks = _PEM_BLOCK_RE.findall(text)
    if not blocks or _PEM_BLOCK_RE.sub("", text).strip():
        return ("is not a PEM certificate bundle — paste only PEM blocks from "
                "-----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----")
    for i, body in enumerate(blocks):
        try:
            der = base64.b64decode("".join(body.split()), validate=True)
        except (binascii.Error, ValueError):
            der = b""
        if len(der) < 64 or der[0] != 0x30:  # an X.509 certificate is a DER SEQUENCE
            return f"certificate {i + 1} is not base64 DER certificate data — copy the PEM file again, unchanged"
        try:  # what the router driver does with the bundle (network/driver.py): OpenSSL must read it
            ssl.create_default_context(cadata=der)
        except (ssl.SSLError, ValueError):
            return (f"certificate {i + 1} looks like PEM but is not a certificate OpenSSL can read — copy "
                    "the CA certificate file again, unchanged (e.g. from System > Cert. Manager > CAs)")
    return None



def _check_iface(value: str, field: str) -> str:
    if not _IFACE_RE.match(value):
        raise ValueError(
            f"{field} {value!r} is not a pfSense interface name — use the interface id "
            "shown by pfSense, e.g. 'wan', 'lan', 'opt1' or a NIC such as 'igc1'"
        )
    return value


def _check_names(v: tuple[str, ...], what: str, fix: str) -> tuple[str, ...]:
    """`v` as admin names (certificate CNs): each valid and listed once."""
    for name in v:
        if not _CLIENT_RE.match(name):
            raise ValueError(
                f"client name {name!r} is invalid — use lowercase letters, digits, '.', '_' or '-'"
            )
    dupes = sorted({n for n in v if v.count(n) > 1})
    if dupes:
        raise ValueError(f"{what} {dupes} appear more than once — {fix}")
    return v


class VpnSettings(Model):
    """OpenVPN remote access for admins. Default: disabled, UDP 1194."""

    enabled: bool = False
    port: Port = 1194
    protocol: Literal["udp", "tcp"] = "udp"
    tunnel_cidr: ipaddress.IPv4Network = ipaddress.IPv4Network("10.8.0.0/24")
    clients: tuple[str, ...] = ()
    # Admins cut off: the router blocks their certificate's common name (network/payloads.py
    # render_vpn_revocations). Names only, same grammar as `clients`.
    revoked_clients: tuple[str, ...] = Field(
        default=(),
        description="admin names the OpenVPN server refuses (one blocking client specific override each)",
    )
    # Public name or address the clients dial; default `vpn.<domain>` (set by the Router).
    endpoint: str | None = None

    @property
    def active_tunnel(self) -> ipaddress.IPv4Network | None:
        """The tunnel network while the VPN is on; None while it is off."""
        return self.tunnel_cidr if self.enabled else None

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str | None) -> str | None:
        # It is written into every admin's .ovpn profile: only a hostname or an address.
        if v is not None and not _ENDPOINT_RE.match(v):
            raise ValueError(
                f"endpoint {v!r} is not a hostname or IPv4 address — write the public name "
                "clients dial, e.g. vpn.example.org"
            )
        return v
    cert_validity_days: Int = Field(default=825, ge=1, le=3650)

    @field_validator("clients")
    @classmethod
    def _clients(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _check_names(v, "client names", "list each admin once")

    @field_validator("revoked_clients")
    @classmethod
    def _revoked(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _check_names(v, "revoked client names", "list each revoked admin once")

    @field_validator("tunnel_cidr")
    @classmethod
    def _tunnel(cls, v: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if v.prefixlen > 29:
            raise ValueError(f"tunnelCidr {v} is too small — use a /29 or larger network")
        return v

    @model_validator(mode="after")
    def _enabled_needs_clients(self) -> VpnSettings:
        if self.enabled and not self.clients:
            raise ValueError(
                "vpn is enabled but has no clients — list at least one admin name in vpn.clients"
            )
        both = [n for n in self.revoked_clients if n in self.clients]
        if both:
            # The router would import a certificate for the name and block it at once.
            raise ValueError(
                f"admin names {both} are in both vpn.clients and vpn.revokedClients — remove them from "
                "vpn.clients to cut them off, or from vpn.revokedClients to let them back in"
            )
        if self.revoked_clients and not self.enabled:
            # An error, not a silent no-op: with the VPN off the Router owns no server, CA or
            # tls-crypt key (enabling it again makes new ones, so old profiles cannot connect),
            # and a list it ignores would look like a block that is in force.
            raise ValueError(
                "vpn.revokedClients is set but vpn is disabled — there is no server to block "
                "them on; remove vpn.revokedClients (or enable the vpn)"
            )
        return self


class RouterSettings(Model):
    """How to reach pfSense and what the router owns. Defaults noted per field.

    - apiUrl: https URL of the pfSense web GUI that serves pfrest (required).
    - verifyTls: verify the router's certificate (default true).
    - caBundle: PEM CA bundle to trust for the router (default: system trust store).
    - timeoutSeconds: per-request timeout (default 15).
    - retries: extra attempts on connection errors and 5xx (default 3).
    - wanInterface / lanInterface: pfSense interface ids (default "wan" / "lan").
    - vlans: moved to `network.vlans` (each VLAN is a network there); refused here.
    - vpn: OpenVPN settings (default disabled).
    - applyTimeoutSeconds: how long to wait for an apply to finish (default 120).
    """

    api_url: str
    verify_tls: bool = True
    ca_bundle: str | None = None
    timeout_seconds: Seconds = Field(default=15.0, le=300)
    retries: Int = Field(default=3, ge=0, le=10)
    apply_timeout_seconds: Seconds = Field(default=120.0, le=1800)
    wan_interface: str = "wan"
    lan_interface: str = "lan"
    vpn: VpnSettings = VpnSettings()

    # The old spelling made only the 802.1Q device; a VLAN is now a whole network. Kept as a
    # field so that its error names the key, router.vlans.
    vlans: None = Field(default=None, description="Moved to network.vlans (each VLAN is a network there); refused.")

    @field_validator("vlans", mode="before")
    @classmethod
    def _vlans_moved(cls, v: object) -> None:
        raise ValueError(
            "has moved to network.vlans — each VLAN is now a network the router serves: move every entry "
            "there and give it a name, cidr and gateway (and a dhcpRange if it should lease addresses), e.g. "
            "{name: nodes, tag: 10, parent: igc1, cidr: 192.168.30.0/24, gateway: 192.168.30.1} "
            "(docs/router.md, \"VLAN networks\")")

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, v: str) -> str:
        parts = urlsplit(v)
        if "@" in parts.netloc:
            # Never echo the value: it holds a secret that would reach plan files and logs.
            raise ValueError(
                "apiUrl holds credentials (user:password@) — remove them; the API key is the "
                "secret pfsenseApiKey (pulumi config set --secret pfsenseApiKey ...)"
            )
        if any(ch.isspace() or not ch.isprintable() for ch in v):
            raise ValueError("apiUrl contains whitespace or control characters — write it as https://<router>[:port]")
        if parts.scheme != "https":
            raise ValueError(
                f"apiUrl {v!r} must use https — the API key travels in a header; "
                "enable HTTPS on the pfSense web GUI and use https://<router>"
            )
        if not parts.hostname:
            raise ValueError(f"apiUrl {v!r} has no host — write it as https://<router>[:port]")
        if not _ENDPOINT_RE.match(parts.hostname):
            try:
                ipaddress.ip_address(parts.hostname)  # an IPv6 literal in brackets
            except ValueError:
                raise ValueError(f"apiUrl {v!r}: the host is no DNS name or IP address — write it as "
                                 "https://<router>[:port], e.g. https://192.168.1.1:8443") from None
        try:
            port = parts.port  # urllib raises on a port that is not a number in 0..65535
        except ValueError:
            port = 0
        if port == 0 or (port is None and parts.netloc.endswith(":")):
            raise ValueError(f"apiUrl {v!r} has an invalid port — write https://<router>[:port] with a "
                             "port from 1 to 65535 (e.g. https://192.168.1.1:8443)")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(
                f"apiUrl {v!r} must be the router base URL only — drop the path "
                "(the driver adds /api/v2/...)"
            )
        return v.rstrip("/")

    @field_validator("ca_bundle")
    @classmethod
    def _ca_bundle(cls, v: str | None) -> str | None:
        problem = pem_certificates_problem(v) if v is not None else None
        if problem:
            raise ValueError(f"caBundle {problem}")
        return v

    @field_validator("wan_interface", "lan_interface")
    @classmethod
    def _ifaces(cls, v: str) -> str:
        return _check_iface(v, "interface")

    @model_validator(mode="after")
    def _cross(self) -> RouterSettings:
        if self.wan_interface == self.lan_interface:
            raise ValueError(
                f"wanInterface and lanInterface are both {self.wan_interface!r} — "
                "they must be different interfaces"
            )
        if not self.verify_tls and self.ca_bundle:
            raise ValueError(
                "caBundle is set but verifyTls is false — keep verifyTls true to use the bundle"
            )
        return self


# --- derived facts (computed by StackConfig.router_inventory, never parsed) ---------------


@dataclass(frozen=True)
class RouterInventory:
    """Node and hostname facts the router payloads are rendered from; validated config only
    (`StackConfig.router_inventory` builds it, so it holds no check of its own).

    - domain: DNS domain of the LAN, e.g. home.example.org.
    - nodes: every k3s node (one DHCP static mapping each).
    - ingress_hosts: every tenant host plus the dashboard host (one DNS override each).
    - api_hostname / api_address: the Kubernetes API name and where it resolves.
    - ingress_address: where 80/443 land inside (dev: the node; prod: the router LAN IP).
    - lan_cidr / lan_address: the LAN network and the router's LAN IP.
    - ha: prod: HAProxy in front of the servers; dev: NAT straight to the single node.
    - proxy_protocol: HAProxy sends PROXY v2 to Traefik on 80/443 (prod only).
    - admin_cidrs: admin ranges on the LAN side (LAN/VLANs), allowed to 6443 and the
      dashboard through the LAN interface; the VPN tunnel has its own rules (default none).
    - ingress_nodes: the nodes Traefik runs on, HAProxy's 80/443 backends (default: all nodes).
    - vlans: the VLAN networks the router serves (default none).
    - node_network: where the nodes live: "lan" (default) or a VLAN network's name.
    - ssh_port: the nodes' SSH port, which admin ranges reach across the router (default 22).
    - tenant_egress: (cidr, protocol, port) of every tenant egress allowance: from a VLAN
      holding the nodes, those are the only ways into the LAN (default none).
    """

    domain: str
    nodes: tuple[Member, ...]
    ingress_hosts: tuple[str, ...]
    api_hostname: str
    ingress_address: IPv4Address
    api_address: IPv4Address
    lan_cidr: IPv4Network
    lan_address: IPv4Address
    ha: bool = False
    proxy_protocol: bool = False
    admin_cidrs: tuple[IPv4Network, ...] = ()
    ingress_nodes: tuple[Member, ...] = ()
    vlans: tuple[VlanNetwork, ...] = ()
    node_network: str = "lan"
    ssh_port: int = 22
    tenant_egress: tuple[tuple[IPv4Network, str, int], ...] = ()

    @property
    def node_vlan(self) -> VlanNetwork | None:
        """The VLAN network the nodes live on, or None when they are on the LAN."""
        return next((v for v in self.vlans if v.name == self.node_network), None)

    @property
    def ingress_backends(self) -> tuple[Member, ...]:
        return self.ingress_nodes or self.nodes

    @property
    def servers(self) -> tuple[Member, ...]:
        return tuple(n for n in self.nodes if n.role == "server")
