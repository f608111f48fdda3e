"""Golden tests for the pure router payload rendering.

Regenerate the golden files after an intended change with:
    UPDATE_GOLDEN=1 ./run test tests/network/test_payloads.py
and review the diff in tests/network/golden/ before committing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.config.router import RouterInventory, RouterSettings
from components.network.openvpn import render_client_config, render_static_key
from components.network.payloads import (
    render_haproxy,
    render_objects,
    render_openvpn_server,
    render_port_forwards,
)
from tests.golden import check_golden

from .conftest import dev_inventory, make_settings, prod_inventory, vlan_inventory

GOLDEN = Path(__file__).resolve().parent / "golden"


def plan_document(settings: RouterSettings, inv: RouterInventory) -> dict[str, Any]:
    """Every object the Router renders, as JSON-ready data keyed by role (what the golden
    files hold); the OpenVPN server appears with its secret key redacted."""
    objs = render_objects(settings, inv)
    if settings.vpn.enabled:
        objs.append(render_openvpn_server(settings, inv, "[secret]"))
    roles = [o.role for o in objs]
    assert len(set(roles)) == len(roles), f"two router objects share a Pulumi name: {roles}"
    return {o.role: {"kind": o.kind.name, "naturalKey": o.natural_key, "payload": o.payload} for o in objs}

def _check_golden(name: str, text: str) -> None:
    check_golden(GOLDEN / name, text)


@pytest.mark.parametrize("stack,inventory", [("dev", dev_inventory), ("prod", prod_inventory),
                                             ("prod-vlan", vlan_inventory)])
def test_plan_matches_golden(stack, inventory):
    doc = plan_document(make_settings(), inventory())
    _check_golden(f"{stack}.json", json.dumps(doc, indent=2, sort_keys=True) + "\n")


def test_prod_shape():
    doc = plan_document(make_settings(), prod_inventory())
    kinds = [v["kind"] for v in doc.values()]
    assert kinds.count("static_mapping") == 5
    overrides = {f"{v['payload']['host']}.{v['payload']['domain']}": v["payload"]["ip"] for v in doc.values() if v["kind"] == "host_override"}
    assert overrides == {
        "traefik.home.example.org": ["192.168.10.1"],
        "blog.home.example.org": ["192.168.10.1"],
        "whoami.home.example.org": ["192.168.10.1"],
        "k8s.home.example.org": ["192.168.10.1"],
    }
    nat = {v["payload"]["destination_port"]: v["payload"]["target"] for v in doc.values() if v["kind"] == "port_forward"}
    assert nat == {"80": "192.168.10.1", "443": "192.168.10.1"}
    assert "vpn-server" in doc


def test_prod_haproxy_backends_cover_every_node():
    objs = {o.payload["name"]: o.payload for o in render_haproxy(prod_inventory()) if o.kind.name == "haproxy_backend"}
    assert sorted(s["address"] for s in objs["k3s-api"]["servers"]) == ["192.168.10.11", "192.168.10.12", "192.168.10.13"]
    for name in ("ingress-http", "ingress-https"):
        servers = objs[name]["servers"]
        assert len(servers) == 5 and all(s["advanced"] == "send-proxy-v2" for s in servers)
    assert all(s["advanced"] == "" for s in objs["k3s-api"]["servers"])  # the API speaks plain TLS
    assert all(b["check_type"] == "Basic" for b in objs.values())
    frontends = [o.payload for o in render_haproxy(prod_inventory()) if o.kind.name == "haproxy_frontend"]
    assert sorted(f["a_extaddr"][0]["extaddr_port"] for f in frontends) == ["443", "6443", "80"]


def test_dev_has_no_haproxy_and_nat_goes_to_the_node():
    assert render_haproxy(dev_inventory()) == []
    targets = {o.payload["target"] for o in render_port_forwards(make_settings(), dev_inventory())}
    assert targets == {"192.168.10.11"}


def test_wan_rules_open_only_web_and_vpn_ports():
    doc = plan_document(make_settings(), prod_inventory())
    wan = [v["payload"] for v in doc.values() if v["kind"] == "firewall_rule" and v["payload"]["interface"] == ["wan"]]
    assert sorted((r["protocol"], r["destination_port"]) for r in wan) == [("tcp", "443"), ("tcp", "80"), ("udp", "1194")]
    assert all(r["type"] == "pass" for r in wan)


def test_vpn_disabled_renders_no_vpn_objects():
    settings = make_settings(vpn={"enabled": False})
    doc = plan_document(settings, dev_inventory())
    assert not [r for r in doc if r.startswith("vpn") or r.startswith("fw-vpn") or r == "fw-wan-vpn"]


def test_openvpn_server_secret_key_redacted_in_plan_document():
    doc = plan_document(make_settings(), prod_inventory())
    assert doc["vpn-server"]["payload"]["tls"] == "[secret]"
    assert doc["vpn-server"]["payload"]["caref"] == "$refid:certificate_authority:k3s-platform-vpn-ca"


FAKE_PEM = "-----BEGIN {0}-----\nMIIfake{1}\n-----END {0}-----\n"


def test_client_config_matches_golden():
    key = render_static_key("0123456789abcdef" * 32)
    text = render_client_config(
        endpoint="vpn.home.example.org", port=1194, protocol="udp", server_cn="k3s-platform-vpn-server",
        ca_pem=FAKE_PEM.format("CERTIFICATE", "ca"), cert_pem=FAKE_PEM.format("CERTIFICATE", "alice"),
        key_pem=FAKE_PEM.format("EC PRIVATE KEY", "alice"), tls_key=key,
    )
    _check_golden("alice.ovpn", text)


def test_static_key_rejects_wrong_length():
    with pytest.raises(ValueError, match="512 hex"):
        render_static_key("abcd")


def test_openvpn_server_fields_pfrest_accepts_in_server_tls_mode():
    """OpenVPNServer.dns_* only apply in the *_user modes (pfrest drops them otherwise), so
    the resolver is pushed through custom_options; list fields are lists; ECDH only."""
    payload = plan_document(make_settings(), prod_inventory())["vpn-server"]["payload"]
    assert payload["mode"] == "server_tls" and payload["use_tls"] is True and payload["tls_type"] == "crypt"
    assert not {"dns_domain", "dns_server1"} & set(payload)
    assert payload["custom_options"] == [
        'push "dhcp-option DNS 192.168.10.1"',
        'push "dhcp-option DOMAIN home.example.org"',
    ]
    assert payload["local_network"] == ["192.168.10.0/24"]
    assert (payload["dh_length"], payload["ecdh_curve"]) == ("none", "none")
    assert payload["data_ciphers_fallback"] in payload["data_ciphers"]


@pytest.mark.parametrize("endpoint", ["vpn.example.org\nscript-security 2", "vpn example", "vpn#x", '"vpn"', ""])
def test_client_config_refuses_an_endpoint_that_would_add_directives(endpoint):
    with pytest.raises(ValueError, match="endpoint"):
        render_client_config(
            endpoint=endpoint, port=1194, protocol="udp", server_cn="k3s-platform-vpn-server",
            ca_pem="ca", cert_pem="cert", key_pem="key", tls_key="tls")


def test_every_object_names_only_earlier_objects_it_comes_after():
    """`after` is computed with the payloads: the Router creates each object after those it
    names, so every name must be an object rendered before it."""
    from components.network.payloads import render_vpn_certificates

    settings, inv = make_settings(), prod_inventory()
    assert settings.vpn.enabled
    clients = {c: ("cert", "key") for c in settings.vpn.clients}
    objs = [*render_vpn_certificates("ca", ("cert", "key"), clients),
            render_openvpn_server(settings, inv, ""), *render_objects(settings, inv)]
    seen: set[str] = set()
    for obj in objs:
        assert set(obj.after) <= seen, f"{obj.role} comes after {obj.after}, not all rendered before it"
        seen.add(obj.role)
    after = {o.role: o.after for o in objs}
    assert after["haproxy-frontend-k3s-api"] == ("haproxy-backend-k3s-api",)
    assert after["vpn-server"] == ("vpn-ca-import", "vpn-server-cert-import")
    assert after["fw-vpn-api"] == ("vpn-server",) and after["fw-wan-https"] == ()


def test_each_revoked_client_gets_one_blocking_override_after_the_server():
    settings = make_settings(vpn={"enabled": True, "clients": ["alice"], "revokedClients": ["bob", "carol"]})
    objs = [o for o in render_objects(settings, prod_inventory()) if o.kind.name == "openvpn_client_override"]
    assert [(o.role, o.natural_key, o.after) for o in objs] == [
        ("vpn-revoked-bob", "openvpn_client_override:bob", ("vpn-server",)),
        ("vpn-revoked-carol", "openvpn_client_override:carol", ("vpn-server",)),
    ]
    assert objs[0].kind.path == "/api/v2/vpn/openvpn/cso" and objs[0].kind.plural == "/api/v2/vpn/openvpn/csos"
    # The certificate's CN is the admin name (vpn_pki.py): blocking that name cuts it off.
    assert objs[0].payload == {
        "common_name": "bob",
        "block": True,
        "disable": False,
        "description": "k3s-platform: revoked vpn admin bob",
        "server_list": [],  # every OpenVPN server
    }


def test_no_revocations_without_revoked_clients():
    # The golden settings revoke nobody: no override, so the goldens above stay as they were.
    assert not [o for o in render_objects(make_settings(), prod_inventory()) if o.kind.name == "openvpn_client_override"]


def test_admin_rules_only_where_traffic_crosses_the_router():
    from ipaddress import IPv4Address as A
    from ipaddress import IPv4Network as N

    from components.network.payloads import crosses_router

    lan, router, node = N("192.168.20.0/24"), A("192.168.20.1"), A("192.168.20.11")
    assert not crosses_router(N("192.168.20.0/24"), node, lan, router)  # switched, never filtered
    assert not crosses_router(N("192.168.20.64/26"), node, lan, router)
    assert crosses_router(N("192.168.20.0/24"), router, lan, router)  # to the router itself (HAProxy)
    assert crosses_router(N("192.168.30.0/24"), node, lan, router)  # another network: routed
    assert crosses_router(N("10.8.0.0/24"), node, lan, router)


def test_dev_has_no_lan_admin_rules_and_prod_keeps_them():
    from tools.imitations.harness import run_stack

    def admin_rules(stack):
        return sorted(r.name for r in run_stack(stack).registrations if "-fw-admin-" in r.name)

    assert admin_rules("dev") == []  # admin LAN and the single node share the subnet
    # prod's nodes are on their VLAN: the admin LAN reaches the API, dashboard and SSH across the router.
    assert admin_rules("prod") == ["k3s-router-fw-admin-192-168-10-0-24-api",
                                     "k3s-router-fw-admin-192-168-10-0-24-dashboard",
                                     "k3s-router-fw-admin-192-168-10-0-24-ssh"]
