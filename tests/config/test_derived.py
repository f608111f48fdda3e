"""Facts the config derives once for every layer: the admin sources (LAN-side ranges plus the
VPN tunnel when it is on) and the router inventory (nodes, hosts, front address)."""

from ipaddress import IPv4Address, IPv4Network
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
    assert cfg.router_inventory.admin_cidrs == (IPv4Network("192.168.10.0/24"),)


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
    assert cfg.router_inventory.admin_cidrs == (IPv4Network("192.168.10.0/24"), IPv4Network("10.8.0.0/24"))


def test_router_inventory_of_the_stacks():
    prod_cfg = parse_config_keys(load_config_file("prod")[0])
    inv = prod_cfg.router_inventory
    assert inv.ha and inv.proxy_protocol
    # prod's nodes live on the VLAN network `nodes`: HAProxy fronts them from the router's address there.
    assert inv.node_network == "nodes" and inv.node_vlan is not None
    assert inv.api_address == inv.ingress_address == inv.node_vlan.gateway == IPv4Address("192.168.30.1")
    assert {n.ip for n in inv.nodes} <= set(inv.node_vlan.cidr.hosts())
    assert [n.role for n in inv.nodes] == ["server"] * 3 + ["agent"] * 2
    assert inv.ingress_hosts == prod_cfg.ingress_hosts
    dev_cfg = parse_config_keys(load_config_file("dev")[0])
    dev_inv = dev_cfg.router_inventory
    assert not dev_inv.ha and dev_inv.api_address == dev_cfg.cluster.servers[0].ip
    assert dev_inv.admin_cidrs == (IPv4Network("192.168.20.0/24"),)
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


def test_members_are_decided_once_servers_first_with_their_role_keys():
    prod_cfg = parse_config_keys(load_config_file("prod")[0])
    cluster = prod_cfg.cluster.model_copy(update={"k3s": prod_cfg.cluster.k3s.model_copy(
        update={"server": {"kubelet-arg": ["max-pods=110"]}, "agent": {"kubelet-arg": ["max-pods=200"]}})})
    members = cluster.members
    assert [(m.name, m.role, m.first) for m in members] == [
        ("cp1", "server", True), ("cp2", "server", False), ("cp3", "server", False),
        ("w1", "agent", False), ("w2", "agent", False)]
    assert members[0].server_url is None
    assert {m.server_url for m in members[1:]} == {cluster.api_url} == {f"https://{cluster.api_hostname}:6443"}
    by_name = {n.name: n for n in cluster.nodes}
    for m in members:
        node = by_name[m.name]
        assert (m.ip, m.mac, m.host_key, m.dead, dict(m.labels), m.taints) == (
            node.ip, node.mac, node.host_key, node.dead, dict(node.labels), node.taints)
        assert m.options["kubelet-arg"] == (["max-pods=110"] if m.role == "server" else ["max-pods=200"])
    # The router's inventory holds the same members: one decision for leases, backends and steps.
    assert prod_cfg.router_inventory.nodes == prod_cfg.cluster.members
