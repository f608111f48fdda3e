"""Issue 27, cause 9 (the rest): values that break the deploy or widen access.

Refused (rc 2 naming the key): the VPN on TCP 80/443 beside the WAN NAT, an ingress host that
is a node's or the VPN's name, more hosts on one tenant certificate than Let's Encrypt issues.
Warned (allowed, said): tenant egress into the pod or service range, or to the router's GUI."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from components.config import ConfigError, config_warnings, parse_stack_config
from tests.config.test_config_fixtures import raw_config

PROD = Path(__file__).parent / "valid" / "prod-ha.yaml"


def _prod():
    return copy.deepcopy(raw_config(PROD))


def _problems(raw) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_stack_config(raw)
    return err.value.problems


@pytest.mark.parametrize("port", [80, 443])
@pytest.mark.parametrize("protocol", ["tcp"])
def test_the_vpn_on_a_nat_port_over_tcp_is_refused(port, protocol):
    raw = _prod()
    raw["router"]["vpn"].update(port=port, protocol=protocol)
    problems = _problems(raw)
    assert any(p.startswith("router.vpn.port: ") and "forwarded to the ingress" in p for p in problems)


@pytest.mark.parametrize("vpn", [{"port": 443, "protocol": "udp"}, {"port": 1194, "protocol": "tcp"},
                                 {"port": 8443, "protocol": "tcp"}, {"port": 80, "protocol": "tcp", "enabled": False,
                                                                    "clients": []}])
def test_other_vpn_ports_are_fine(vpn):
    raw = _prod()
    raw["router"]["vpn"].update(vpn)
    parse_stack_config(raw)


@pytest.mark.parametrize("host", ["cp1.home.example.org", "w2.home.example.org", "vpn.home.example.org"])
@pytest.mark.parametrize("where", ["tenant", "dashboard"])
def test_an_ingress_host_that_is_a_node_or_the_vpn_name_is_refused(host, where):
    raw = _prod()
    if where == "tenant":
        raw["tenants"][0]["hosts"].append(host)
        key = "tenants[0].hosts[2]: "
    else:
        raw["ingress"]["dashboardHost"] = host
        key = "ingress.dashboardHost: "
    problems = _problems(raw)
    assert any(p.startswith(key) and "DNS override would send that name" in p for p in problems), problems


def test_a_custom_vpn_endpoint_is_reserved_and_the_default_then_free():
    raw = _prod()
    raw["router"]["vpn"]["endpoint"] = "remote.home.example.org"
    raw["tenants"][0]["hosts"].append("remote.home.example.org")
    assert any("the VPN endpoint" in p for p in _problems(raw))
    raw["tenants"][0]["hosts"][-1] = "vpn.home.example.org"
    parse_stack_config(raw)


def test_the_vpn_name_is_free_while_the_vpn_is_off():
    raw = _prod()
    raw["router"]["vpn"] = {"enabled": False}
    raw["tenants"][0]["hosts"].append("vpn.home.example.org")
    parse_stack_config(raw)


@pytest.mark.parametrize("count", [101, 150])
def test_more_hosts_than_one_acme_certificate_holds_is_refused(count):
    raw = _prod()
    raw["tenants"][1]["hosts"] = [f"h{i}.home.example.org" for i in range(count)]
    problems = _problems(raw)
    assert any(p.startswith("tenants[1].hosts: ") and "at most 100 names" in p for p in problems)


def test_a_hundred_hosts_or_a_private_ca_is_fine():
    raw = _prod()
    raw["tenants"][1]["hosts"] = [f"h{i}.home.example.org" for i in range(100)]
    parse_stack_config(raw)
    raw["tenants"][1]["hosts"].append("h100.home.example.org")
    raw["certificates"] = {"issuer": "ca"}
    parse_stack_config(raw)


@pytest.mark.parametrize("cidr,what", [("10.42.0.0/16", "pod range"), ("10.42.7.0/24", "pod range"),
                                       ("10.0.0.0/8", "pod range"), ("10.43.0.10/32", "service range")])
def test_tenant_egress_into_the_pod_or_service_range_is_warned(cidr, what):
    raw = _prod()
    raw["tenants"][1]["egress"] = [{"cidr": cidr, "ports": [5432]}]
    warnings = config_warnings(parse_stack_config(raw))
    assert any(w.startswith("tenants[1].egress[0].cidr: ") and what in w for w in warnings), warnings


@pytest.mark.parametrize("cidr", ["192.168.10.1/32", "192.168.10.0/24", "192.168.30.1/32", "192.168.0.0/16"])
def test_tenant_egress_to_the_router_gui_is_warned(cidr):
    raw = _prod()
    raw["tenants"][1]["egress"] = [{"cidr": cidr, "ports": [5432, 8443]}]
    warnings = config_warnings(parse_stack_config(raw))
    assert any(w.startswith("tenants[1].egress[0].cidr: ") and "web GUI" in w for w in warnings), warnings


@pytest.mark.parametrize("egress", [{"cidr": "192.168.10.50/32", "ports": [5432]},
                                    {"cidr": "192.168.10.1/32", "ports": [53]},
                                    {"cidr": "192.168.10.1/32", "ports": [8443], "protocol": "UDP"},
                                    {"cidr": "203.0.113.0/24", "ports": [443]}])
def test_narrow_tenant_egress_is_not_warned(egress):
    raw = _prod()
    raw["tenants"][1]["egress"] = [egress]
    assert config_warnings(parse_stack_config(raw)) == []


def _set(raw, path, value):
    node = raw
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


# Digits of other scripts (Arabic-Indic, fullwidth, Devanagari, superscript) in every kind of
# numeric value: int() and some parsers would read them as numbers.
@pytest.mark.parametrize("key,path,value", [
    ("tenants[0].appPorts[0]", ("tenants", 0, "appPorts", 0), "\u0668\u0660\u0668\u0660"),
    ("router.vpn.port", ("router", "vpn", "port"), "\uff11\uff11\uff19\uff14"),
    ("ingress.replicas", ("ingress", "replicas"), "\u0968"),
    ("network.vlans[0].tag", ("network", "vlans", 0, "tag"), "\u0661\u0660"),
    ("router.timeoutSeconds", ("router", "timeoutSeconds"), "1\u00b2"),
    ("cluster.servers[0].ip", ("cluster", "servers", 0, "ip"), "192.168.30.\u0661\u0661"),
    ("network.lan.cidr", ("network", "lan", "cidr"), "\uff11\uff19\uff12.168.10.0/24"),
    ("tenants[1].quota.requestsCpu", ("tenants", 1, "quota", "requestsCpu"), "\u0661"),
    ("tenants[1].quota.pods", ("tenants", 1, "quota", "pods"), "\u0967\u0966"),
    ("router.apiUrl", ("router", "apiUrl"), "https://192.168.10.1:\u0668443"),
    ("cluster.servers[0].mac", ("cluster", "servers", 0, "mac"), "52:54:00:10:00:\u0661\u0661"),
    ("tenants[1].egress[0].ports[0]", ("tenants", 1, "egress", 0, "ports", 0), "\uff15432"),
])
def test_digits_of_other_scripts_are_refused_naming_the_key(key, path, value):
    raw = _prod()
    _set(raw, path, value)
    assert any(p.startswith(f"{key}: ") for p in _problems(raw))
