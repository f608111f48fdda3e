"""`network`: the LAN the nodes live on and where admins come from."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from pydantic import Field, model_validator

from components.config.types import Model


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
    """The LAN the nodes live on. `gateway` is the router's LAN address."""

    cidr: IPv4Network
    gateway: IPv4Address
    dhcp_range: DhcpRange


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
    """

    lan: Lan
    admin_cidrs: tuple[IPv4Network, ...] = Field(min_length=1)
    allow_public_admin: bool = Field(
        default=False,
        description="Accept admin ranges outside the private LAN and VLANs (exposes 6443 and the dashboard to them).")

