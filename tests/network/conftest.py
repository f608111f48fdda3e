"""Shared fixtures for the Router tests: example settings/inventories (dev: one node, no HA;
prod: 3 servers + 2 agents behind HAProxy) and a fake pfrest server on 127.0.0.1."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from components.config import Member, RouterInventory, RouterSettings, VlanNetwork
from components.network.driver import PfRestDriver

from .fake_pfrest import API_KEY, FakePfRest

DOMAIN = "home.example.org"
HOSTS = ("traefik.home.example.org", "blog.home.example.org", "whoami.home.example.org")


def make_settings(**overrides) -> RouterSettings:
    raw = {
        "apiUrl": "https://192.168.10.1",
        "vpn": {"enabled": True, "clients": ["alice", "bob"], "tunnelCidr": "10.8.0.0/24"},
    }
    raw.update(overrides)
    return RouterSettings.model_validate(raw)


# A VLAN network that holds no nodes (the iot devices), on the LAN's parent NIC.
IOT = VlanNetwork.model_validate({"name": "iot", "tag": 20, "parent": "igc1", "description": "iot",
                                  "cidr": "192.168.20.0/24", "gateway": "192.168.20.1",
                                  "dhcpRange": {"start": "192.168.20.100", "end": "192.168.20.199"}})


def dev_inventory() -> RouterInventory:
    node = Member("cp1", IPv4Address("192.168.10.11"), "server", mac="52:54:00:00:10:11")
    return RouterInventory(
        domain=DOMAIN,
        nodes=(node,),
        ingress_hosts=HOSTS,
        api_hostname=f"k8s.{DOMAIN}",
        ingress_address=IPv4Address("192.168.10.11"),
        api_address=IPv4Address("192.168.10.11"),
        lan_cidr=IPv4Network("192.168.10.0/24"),
        lan_address=IPv4Address("192.168.10.1"),
        ha=False,
        admin_cidrs=(IPv4Network("192.168.10.0/24"),),
        proxy_protocol=False,
        vlans=(IOT,),
    )


def prod_inventory() -> RouterInventory:
    servers = tuple(Member(f"cp{i}", IPv4Address(f"192.168.10.1{i}"), "server", mac=f"52:54:00:00:10:1{i}") for i in (1, 2, 3))
    agents = tuple(Member(f"w{i}", IPv4Address(f"192.168.10.2{i}"), "agent", mac=f"52:54:00:00:10:2{i}") for i in (1, 2))
    return RouterInventory(
        domain=DOMAIN,
        nodes=servers + agents,
        ingress_hosts=HOSTS,
        api_hostname=f"k8s.{DOMAIN}",
        ingress_address=IPv4Address("192.168.10.1"),
        api_address=IPv4Address("192.168.10.1"),
        lan_cidr=IPv4Network("192.168.10.0/24"),
        lan_address=IPv4Address("192.168.10.1"),
        ha=True,
        admin_cidrs=(IPv4Network("192.168.10.0/24"),),
        proxy_protocol=True,
        vlans=(IOT,),
    )


def vlan_inventory() -> RouterInventory:
    """prod with its nodes on the VLAN network `nodes` (192.168.30.0/24, tag 10)."""
    nodes_vlan = VlanNetwork.model_validate({"name": "nodes", "tag": 10, "parent": "igc1", "cidr": "192.168.30.0/24",
                                             "gateway": "192.168.30.1"})
    servers = tuple(Member(f"cp{i}", IPv4Address(f"192.168.30.1{i}"), "server", mac=f"52:54:00:00:10:1{i}") for i in (1, 2, 3))
    agents = tuple(Member(f"w{i}", IPv4Address(f"192.168.30.2{i}"), "agent", mac=f"52:54:00:00:10:2{i}") for i in (1, 2))
    return RouterInventory(
        domain=DOMAIN, nodes=servers + agents, ingress_hosts=HOSTS, api_hostname=f"k8s.{DOMAIN}",
        ingress_address=IPv4Address("192.168.30.1"), api_address=IPv4Address("192.168.30.1"),
        lan_cidr=IPv4Network("192.168.10.0/24"), lan_address=IPv4Address("192.168.10.1"), ha=True,
        admin_cidrs=(IPv4Network("192.168.10.0/24"),), proxy_protocol=True, vlans=(nodes_vlan,), node_network="nodes",
        tenant_egress=((IPv4Network("192.168.10.50/32"), "tcp", 5432), (IPv4Network("203.0.113.0/24"), "tcp", 443)))


@pytest.fixture
def fake():
    server = FakePfRest().start()
    try:
        yield server
    finally:
        server.stop()


def make_driver(url: str, key: str = API_KEY, **kw) -> PfRestDriver:
    opts = {"timeout": 5.0, "retries": 2, "backoff": 0.0, "poll_interval": 0.0, "apply_timeout": 5.0, "sleep": lambda s: None}
    opts.update(kw)
    return PfRestDriver(url, key, **opts)


@pytest.fixture
def driver(fake):
    return make_driver(fake.url)
