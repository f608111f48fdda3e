"""Facts the config derives once for every layer: the admin sources (LAN-side ranges plus the
VPN tunnel when it is on) and the router inventory (nodes, hosts, front address)."""

from ipaddress import IPv4Network
from pathlib import Path

import pytest

from components.config import ConfigError, parse_config_keys, parse_stack_config
from tests.config.test_config_fixtures import raw_config
from tools.imitations.harness import load_config_file

PROD = Path(__file__).parent / "valid" / "prod-ha.yaml"


def prod(**network):
    raw = raw_config(PROD)
    raw["network"].update(network)
    return parse_stack_config(raw)


def test_tunnel_is_an_admin_source_without_being_listed():
    cfg = prod(adminCidrs=["192.168.10.0/24"])
    assert cfg.admin_sources == (IPv4Network("192.168.10.0/24"), IPv4Network("10.8.0.0/24"))
    assert cfg.router_inventory.admin_cidrs == ("192.168.10.0/24",)


def test_the_tunnel_listed_as_an_admin_range_is_refused_while_the_vpn_is_on():
    with pytest.raises(ConfigError, match=r"network.adminCidrs\[1\]: 10.8.0.0/24 is inside the VPN tunnel"):
        prod(adminCidrs=["192.168.10.0/24", "10.8.0.0/24"])


def test_vpn_off_keeps_only_the_listed_ranges():
    raw = raw_config(PROD)
    raw["router"]["vpn"] = {"enabled": False}
    raw["network"]["adminCidrs"] = ["192.168.10.0/24", "10.8.0.0/24"]
    raw["network"]["allowPublicAdmin"] = True  # 10.8.0.0/24 is outside the LAN once the VPN is off
    cfg = parse_stack_config(raw)
    assert cfg.admin_sources == (IPv4Network("192.168.10.0/24"), IPv4Network("10.8.0.0/24"))
    assert cfg.router_inventory.admin_cidrs == ("192.168.10.0/24", "10.8.0.0/24")


def test_router_inventory_of_the_stacks():
    prod_cfg = parse_config_keys(load_config_file("prod")[0])
    inv = prod_cfg.router_inventory
    assert inv.ha and inv.proxy_protocol
    # prod's nodes live on the VLAN network `nodes`: HAProxy fronts them from the router's address there.
    assert inv.node_network == "nodes" and inv.node_vlan is not None
    assert inv.api_address == inv.ingress_address == str(inv.node_vlan.gateway) == "192.168.30.1"
    assert {n.ip for n in inv.nodes} <= {str(ip) for ip in inv.node_vlan.cidr.hosts()}
    assert [n.role for n in inv.nodes] == ["server"] * 3 + ["agent"] * 2
    assert inv.ingress_hosts == prod_cfg.ingress_hosts
    dev_cfg = parse_config_keys(load_config_file("dev")[0])
    dev_inv = dev_cfg.router_inventory
    assert not dev_inv.ha and dev_inv.api_address == str(dev_cfg.cluster.servers[0].ip)
    assert dev_inv.admin_cidrs == ("192.168.20.0/24",)
    assert [str(c) for c in dev_cfg.admin_sources] == ["192.168.20.0/24", "10.8.20.0/24"]


def test_the_supported_window_comes_from_the_pin_and_accepts_k3s_1_36():
    from components.config import k3s_options
    from components.config.types import PINNED_KUBERNETES_MINOR, SUPPORTED_KUBERNETES_MINORS

    assert k3s_options.flag_table()["k3sVersion"].startswith(f"v1.{PINNED_KUBERNETES_MINOR}.")
    assert SUPPORTED_KUBERNETES_MINORS == (32, 33, 34, 35, 36)
    from components.config.cluster import Cluster

    fields = {"certificateAuthorities": "program", "apiHostname": "k8s.home.example.org",
              "ssh": {"user": "k3s"}, "servers": [{"name": "cp1", "ip": "192.168.10.11", "mac": "52:54:00:10:00:11"}]}
    assert Cluster.model_validate({**fields, "k3sVersion": "v1.36.0+k3s1"}).kubernetes_minor == "v1.36"
