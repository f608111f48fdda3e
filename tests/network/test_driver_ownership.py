"""Issue 27, cause 4: the driver changes and deletes only the objects it made.

A hand-made object with one of our natural keys is a named conflict (RouterConflict), never
adopted, patched or deleted — whatever its description looks like, as long as it does not
start with our tag. DHCP static mappings are the documented exception (docs/router.md §4).
A write or a delete answered 200 proves nothing: the listing afterwards decides."""

from __future__ import annotations

import base64
import json

import pytest

from components.network.driver import RouterConflict, RouterError
from components.network.kinds import (
    BACKEND_MARK,
    DHCP_SERVER,
    FIREWALL_ALIAS,
    HAPROXY_BACKEND,
    HAPROXY_FRONTEND,
    HOST_OVERRIDE,
    INTERFACE,
    OPENVPN_CLIENT_OVERRIDE,
    STATIC_MAPPING,
    VLAN,
)
from components.network.resources import PfSenseObjectProvider

from .conftest import make_driver
from .fake_pfrest import API_KEY

# Descriptions that are not our tag, spelled in many ways an operator or a GUI might.
FOREIGN_DESCRS = ["", "hand-made", "K3S-PLATFORM: ingress", " k3s-platform: ingress", "k3s_platform: ingress",
                  "k3s platform", "\u200bk3s-platform: ingress", None, ["k3s-platform"], 7]

OVERRIDE = {"host": "blog", "domain": "home.example.org", "ip": ["192.168.10.11"], "descr": "k3s-platform: ingress",
            "aliases": []}
CSO = {"common_name": "mallory", "block": True, "disable": False, "description": "k3s-platform: revoked vpn admin",
       "server_list": []}
ALIAS = {"name": "k3s_platform_private", "type": "network", "descr": "k3s-platform: private address space",
         "address": ["10.0.0.0/8"], "detail": ["rfc1918"]}
VLAN_20 = {"if": "igc1", "tag": 20, "descr": "k3s-platform: iot (iot 192.168.20.0/24)"}
IFACE_20 = {"if": "igc1.20", "enable": True, "descr": "IOT", "typev4": "static", "ipaddr": "192.168.20.1",
            "subnet": 24}


def _with_descr(obj: dict, field: str, descr) -> dict:
    out = dict(obj)
    if descr is None:
        out.pop(field, None)
    else:
        out[field] = descr
    return out


def _writes(fake) -> list:
    return fake.writes()


@pytest.mark.parametrize("descr", FOREIGN_DESCRS)
@pytest.mark.parametrize("kind,ours,field", [(HOST_OVERRIDE, OVERRIDE, "descr"),
                                             (OPENVPN_CLIENT_OVERRIDE, CSO, "description"),
                                             (FIREWALL_ALIAS, ALIAS, "descr"),
                                             (VLAN, VLAN_20, "descr")])
def test_a_hand_made_object_with_our_key_is_a_conflict_never_changed(fake, kind, ours, field, descr):
    fake.objects[kind.name].append(_with_descr(ours, field, descr))
    before = fake.listing(kind.name)
    driver = make_driver(fake.url)
    for call in (driver.upsert, driver.delete):
        with pytest.raises(RouterConflict) as err:
            call(kind, ours)
        text = str(err.value)
        assert kind.name in text and "not made by this program" in text and API_KEY not in text
    assert _writes(fake) == [] and fake.listing(kind.name) == before


def test_a_conflict_names_the_key_and_is_also_what_refresh_and_apply_say(fake):
    fake.objects["host_override"].append(_with_descr(OVERRIDE, "descr", "blog by hand"))
    driver = make_driver(fake.url)
    with pytest.raises(RouterConflict, match=r"host_override:blog\|home\.example\.org"):
        driver.apply("dns", [("host_override", OVERRIDE)])
    props = {"apiUrl": fake.url, "apiKey": API_KEY, "timeoutSeconds": 5, "retries": 0, "kind": "host_override",
             "naturalKey": "host_override:blog|home.example.org", "payload": OVERRIDE}
    with pytest.raises(RouterConflict):
        PfSenseObjectProvider().read("host_override:blog|home.example.org", props)
    assert _writes(fake) == []


def test_our_own_tagged_object_is_still_updated_and_deleted(fake):
    fake.objects["host_override"].append(dict(OVERRIDE, ip=["192.168.10.99"]))
    driver = make_driver(fake.url)
    live = driver.upsert(HOST_OVERRIDE, OVERRIDE)
    assert live["ip"] == ["192.168.10.11"] and [m for m, _ in _writes(fake)] == ["PATCH"]
    assert driver.delete(HOST_OVERRIDE, OVERRIDE) is True and fake.listing("host_override") == []


# -- interface assignments and DHCP servers: ours through the VLAN device ----------------------


@pytest.mark.parametrize("vlan_descr", FOREIGN_DESCRS)
def test_an_interface_on_a_vlan_device_that_is_not_ours_is_a_conflict(fake, vlan_descr):
    fake.objects["vlan"].append(_with_descr(VLAN_20, "descr", vlan_descr))
    fake.objects["interface"].append(dict(IFACE_20, id="opt1"))
    fake.objects["dhcp_server"].append({"id": "opt1", "interface": "opt1", "enable": True})
    driver = make_driver(fake.url)
    with pytest.raises(RouterConflict):
        driver.upsert(INTERFACE, IFACE_20)
    with pytest.raises(RouterConflict):
        driver.delete(INTERFACE, IFACE_20)
    for call in (driver.upsert, driver.delete):
        with pytest.raises(RouterConflict, match="its interface is no VLAN network"):
            call(DHCP_SERVER, {"interface": "opt1", "enable": True})
    assert _writes(fake) == []


@pytest.mark.parametrize("port", ["igc2", "igc3"])
def test_an_interface_on_a_physical_port_is_never_ours(fake, port):
    fake.objects["interface"].append(dict(IFACE_20, **{"if": port, "id": "opt1"}))
    with pytest.raises(RouterConflict):
        make_driver(fake.url).upsert(INTERFACE, dict(IFACE_20, **{"if": port}))


@pytest.mark.parametrize("server", ["lan", "wan"])
def test_the_dhcp_server_of_an_interface_we_did_not_assign_is_not_ours(fake, server):
    fake.objects["dhcp_server"].append({"id": server, "interface": server, "enable": True})
    with pytest.raises(RouterConflict):
        make_driver(fake.url).delete(DHCP_SERVER, {"interface": server})
    assert _writes(fake) == []


def test_our_vlan_network_objects_are_ours(fake):
    driver = make_driver(fake.url)
    driver.upsert(VLAN, VLAN_20)
    iface = driver.upsert(INTERFACE, IFACE_20)
    driver.upsert(DHCP_SERVER, {"interface": iface["id"], "enable": True})
    assert driver.delete(DHCP_SERVER, {"interface": iface["id"]}) is True
    assert driver.delete(INTERFACE, IFACE_20) is True and driver.delete(VLAN, VLAN_20) is True


# -- HAProxy backends: no description, the pass-thru comment carries the tag -------------------

BACKEND = {"name": "k3s-api", "servers": [], "balance": "roundrobin", "advanced_backend": BACKEND_MARK}
FRONTEND = {"name": "k3s-api", "descr": "k3s-platform: kubernetes api", "status": "active", "type": "tcp",
            "backend_serverpool": "k3s-api", "a_extaddr": []}


@pytest.mark.parametrize("advanced", [None, "", "# hand-made", "# K3S-PLATFORM: managed backend",
                                      " # k3s-platform: managed backend", base64.b64encode(b"# mine").decode()])
@pytest.mark.parametrize("frontend", [None, {**FRONTEND, "descr": "office api"},
                                      {**FRONTEND, "backend_serverpool": "other"}])
def test_a_backend_without_our_mark_or_frontend_is_a_conflict(fake, advanced, frontend):
    fake.objects["haproxy_backend"].append(_with_descr(BACKEND, "advanced_backend", advanced))
    if frontend:
        fake.objects["haproxy_frontend"].append(frontend)
    driver = make_driver(fake.url)
    for call in (driver.upsert, driver.delete):
        with pytest.raises(RouterConflict, match="backend pass-thru"):
            call(HAPROXY_BACKEND, BACKEND)
    assert _writes(fake) == []


@pytest.mark.parametrize("advanced", [BACKEND_MARK, base64.b64encode(BACKEND_MARK.encode()).decode()])
def test_a_marked_backend_is_ours_as_text_or_as_stored(fake, advanced):
    fake.objects["haproxy_backend"].append(dict(BACKEND, advanced_backend=advanced, balance="source"))
    assert make_driver(fake.url).upsert(HAPROXY_BACKEND, BACKEND)["balance"] == "roundrobin"


def test_an_unmarked_backend_our_frontend_uses_is_ours_and_gets_the_mark(fake):
    """Stacks deployed before the mark: the first `up` marks their backends."""
    fake.objects["haproxy_backend"].append({k: v for k, v in BACKEND.items() if k != "advanced_backend"})
    fake.objects["haproxy_frontend"].append(FRONTEND)
    driver = make_driver(fake.url)
    driver.upsert(HAPROXY_BACKEND, BACKEND)
    assert fake.listing("haproxy_backend")[0]["advanced_backend"] == BACKEND_MARK
    driver.delete(HAPROXY_FRONTEND, FRONTEND)
    assert driver.delete(HAPROXY_BACKEND, BACKEND) is True  # ours by its mark alone now


# -- DHCP static mappings: the documented exception ---------------------------------------------

MAPPING = {"parent_id": "lan", "mac": "52:54:00:00:10:11", "ipaddr": "192.168.10.11", "hostname": "cp1",
           "domain": "home.example.org", "descr": "k3s-platform: k3s server cp1"}


@pytest.mark.parametrize("descr", ["", "cp1 reserved by hand", None])
@pytest.mark.parametrize("mac", ["52:54:00:00:10:11", "52:54:00:00:10:11".upper()])
def test_a_hand_made_static_mapping_for_a_node_mac_is_adopted(fake, descr, mac):
    fake.objects["static_mapping"].append(_with_descr(dict(MAPPING, mac=mac, ipaddr="192.168.10.50"), "descr", descr))
    driver = make_driver(fake.url)
    live = driver.upsert(STATIC_MAPPING, MAPPING)
    assert live["ipaddr"] == "192.168.10.11" and live["descr"] == MAPPING["descr"]
    assert len(fake.listing("static_mapping")) == 1
    assert driver.delete(STATIC_MAPPING, MAPPING) is True and fake.listing("static_mapping") == []


# -- answers are not proof --------------------------------------------------------------------


def _raw(data) -> bytes:
    body = json.dumps({"code": 200, "status": "ok", "data": data}).encode()
    return f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


@pytest.mark.parametrize("data", [None, {}, {"id": 0}, [], "ok", {"descr": "k3s-platform: ingress"}])
def test_a_create_answered_200_that_made_nothing_is_an_error(fake, data):
    fake.raw[("POST", HOST_OVERRIDE.path)] = [_raw(data)]
    with pytest.raises(RouterError, match="does not list it"):
        make_driver(fake.url).upsert(HOST_OVERRIDE, OVERRIDE)


@pytest.mark.parametrize("data", [{"host": "www", "domain": "home.example.org"},
                                  {"host": "blog", "domain": "other.example.org", "id": 0}])
def test_a_write_answered_with_another_object_is_an_error(fake, data):
    fake.raw[("POST", HOST_OVERRIDE.path)] = [_raw(data)]
    with pytest.raises(RouterError, match="answered with another object"):
        make_driver(fake.url).upsert(HOST_OVERRIDE, OVERRIDE)


@pytest.mark.parametrize("stored", ["", "ingress", None])
def test_a_write_the_router_lists_without_our_tag_is_an_error(fake, monkeypatch, stored):
    """A router that does not keep the description it was sent: the object is not ours to manage."""
    singular = fake._singular

    def drops_descr(method, kind, query, body):
        if method == "POST":
            body = _with_descr(body, "descr", stored)
        return singular(method, kind, query, body)

    monkeypatch.setattr(fake, "_singular", drops_descr)
    with pytest.raises(RouterError, match="without our tag"):
        make_driver(fake.url).upsert(HOST_OVERRIDE, OVERRIDE)


@pytest.mark.parametrize("data", [None, {}, {"id": 0}, [], "deleted", {"descr": "k3s-platform: ingress"}])
def test_a_delete_answered_200_without_removing_anything_is_an_error(fake, data):
    fake.objects["host_override"].append(dict(OVERRIDE))
    fake.raw[("DELETE", HOST_OVERRIDE.path)] = [_raw(data)]
    with pytest.raises(RouterError, match="still lists it"):
        make_driver(fake.url).delete(HOST_OVERRIDE, OVERRIDE)
    assert len(fake.listing("host_override")) == 1


@pytest.mark.parametrize("ident", ["-1", "opt", "OPT1", "opt1\n", "lan ", "opt01", 1, -1, None, "opt1; x"])
def test_an_interface_id_that_is_no_interface_is_refused(fake, ident):
    fake.objects["vlan"].append(VLAN_20)
    fake.objects["interface"].append(dict(IFACE_20, id=ident))
    with pytest.raises(RouterError, match="no usable `id`"):
        make_driver(fake.url, retries=0).delete(INTERFACE, IFACE_20)
    assert _writes(fake) == []


@pytest.mark.parametrize("host", ["\x1b[2J\x1b]0;pwned\x07www", "w" * 5000, "www\n\rforged line", API_KEY + "x"])
def test_router_values_in_errors_are_cut_and_stripped_of_escapes(fake, host):
    fake.raw[("POST", HOST_OVERRIDE.path)] = [_raw({"host": host, "domain": "home.example.org"})]
    with pytest.raises(RouterError) as err:
        make_driver(fake.url).upsert(HOST_OVERRIDE, OVERRIDE)
    text = str(err.value)
    assert "\x1b" not in text and "\n" not in text and "\r" not in text and API_KEY not in text
    assert len(text) < 600
