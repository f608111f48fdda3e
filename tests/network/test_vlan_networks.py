"""VLAN networks on the router: the interface placeholder, ownership without a tagged
description, and the fake pfSense API holding pfrest's constraints (order, filter names,
deletes in use), driven through the same provider calls the engine makes."""

from __future__ import annotations

import pytest

from components.network.kinds import natural_key, owned_interface
from components.network.payloads import (
    interface_refs,
    render_objects,
    static_mapping_role,
    with_interface_ids,
)
from components.network.resources import PfSenseObjectProvider, wire_numbers

from .conftest import make_settings, vlan_inventory
from .fake_pfrest import API_KEY

# The nodes' DHCP mappings are named by MAC (payloads.static_mapping_role).
_MAPPINGS = {n.name: static_mapping_role(n.mac) for n in vlan_inventory().nodes}
CP1, W2 = _MAPPINGS["cp1"], _MAPPINGS["w2"]


def test_every_reference_to_the_nodes_interface_is_a_placeholder_until_wired():
    objs = {o.role: o for o in render_objects(make_settings(), vlan_inventory())}
    refs = {role for role, o in objs.items() if interface_refs(o.payload)}
    assert {"dhcpd-nodes", CP1, W2, "fw-vlan-nodes-dns", "fw-vlan-nodes-outbound"} <= refs
    assert "iface-nodes" not in refs and "vlan-igc1-10" not in refs  # these make the id
    wired = with_interface_ids(objs[CP1].payload, {"nodes": "opt4"})
    assert wired["parent_id"] == "opt4" and natural_key(objs[CP1].kind, wired).startswith("static_mapping:opt4/")
    assert objs[CP1].after == ("dhcpd-nodes",) and objs["dhcpd-nodes"].after == ("iface-nodes",)
    assert objs["iface-nodes"].after == ("vlan-igc1-10",)
    assert "iface-nodes" in objs["fw-vlan-nodes-dns"].after


def test_rules_on_the_nodes_vlan_are_what_the_cluster_needs():
    objs = {o.role: o.payload for o in render_objects(make_settings(), vlan_inventory())}
    vlan_rules = sorted(r for r in objs if r.startswith("fw-vlan-nodes-"))
    assert vlan_rules == ["fw-vlan-nodes-dns", "fw-vlan-nodes-egress-192-168-10-50-32-tcp-5432",
                          "fw-vlan-nodes-haproxy-443", "fw-vlan-nodes-haproxy-6443", "fw-vlan-nodes-haproxy-80",
                          "fw-vlan-nodes-ntp", "fw-vlan-nodes-outbound"]  # public egress: the outbound rule
    assert objs["fw-vlan-nodes-outbound"]["destination"] == "!k3s_platform_private"
    assert "protocol" not in objs["fw-vlan-nodes-outbound"]  # any protocol
    assert {objs[r]["destination"] for r in vlan_rules if "haproxy" in r or r.endswith(("dns", "ntp"))} == {"192.168.30.1"}
    # Nothing else passes into the LAN from the VLAN.
    into_lan = [r for r in vlan_rules if objs[r]["destination"].startswith("192.168.10.")]
    assert into_lan == ["fw-vlan-nodes-egress-192-168-10-50-32-tcp-5432"]


@pytest.mark.parametrize("vlans,owned", [
    ([{"if": "igc1", "tag": 10, "descr": "k3s-platform: k3s nodes (nodes 192.168.30.0/24)"}], True),
    ([{"if": "igc1", "tag": 10, "descr": "the operator's cameras"}], False),  # a VLAN someone else made
    ([{"if": "igc1", "tag": 11, "descr": "k3s-platform: other"}], False),     # ours, another device
    ([], False),
])
def test_an_interface_is_ours_when_its_vlan_device_is(vlans, owned):
    assert owned_interface({"id": "opt2", "if": "igc1.10", "descr": "NODES"}, vlans) is owned


def _props(fake, obj, ids=None):
    payload = with_interface_ids(obj.payload, ids or {})
    return {"apiUrl": fake.url, "apiKey": API_KEY, "retries": 0, "kind": obj.kind.name,
            "naturalKey": natural_key(obj.kind, payload), "payload": payload}


def test_the_fake_router_holds_pfrest_order_and_refuses_deletes_in_use(fake):
    objs = {o.role: o for o in render_objects(make_settings(), vlan_inventory())}
    provider = PfSenseObjectProvider()
    with pytest.raises(Exception, match="no such port"):  # an assignment before its device
        provider.create(_props(fake, objs["iface-nodes"]))
    provider.create(_props(fake, objs["vlan-igc1-10"]))
    made = provider.create(_props(fake, objs["iface-nodes"]))
    ident = made.outs["assignedId"]
    assert ident == "opt1" and fake.objects["interface"][0]["subnet"] == 24
    with pytest.raises(Exception, match="Parent DHCP server"):  # a mapping before its DHCP server
        provider.create(_props(fake, objs[CP1], {"nodes": ident}))
    for role in ("dhcpd-nodes", CP1, "fw-vlan-nodes-dns"):
        provider.create(_props(fake, objs[role], {"nodes": ident}))
    with pytest.raises(Exception, match="in use"):
        provider.delete("x", _props(fake, objs["iface-nodes"]))
    with pytest.raises(Exception, match="in use"):
        provider.delete("x", _props(fake, objs["vlan-igc1-10"]))
    for role in ("fw-vlan-nodes-dns", CP1, "dhcpd-nodes", "iface-nodes", "vlan-igc1-10"):
        provider.delete("x", _props(fake, objs[role], {"nodes": ident}))
    assert all(not fake.objects[k] for k in ("interface", "dhcp_server", "static_mapping", "vlan"))


@pytest.mark.parametrize("descr", ["k3s-platform: nodes", "1234", "pkg_nodes", "OpenVPN", "lan"])
def test_the_fake_router_takes_interface_descriptions_only_as_filter_names(fake, descr):
    objs = {o.role: o for o in render_objects(make_settings(), vlan_inventory())}
    provider = PfSenseObjectProvider()
    provider.create(_props(fake, objs["vlan-igc1-10"]))
    bad = dict(objs["iface-nodes"].payload, descr=descr)
    with pytest.raises(Exception, match="filter name"):
        provider.create({**_props(fake, objs["iface-nodes"]), "payload": bad})


def test_numbers_reach_pfrest_as_integers():
    # The engine hands providers 24.0; pfrest's IntegerFields want 24.
    assert wire_numbers({"subnet": 24.0, "tag": [10.0], "ratio": 0.5, "x": "24.0"}) == {
        "subnet": 24, "tag": [10], "ratio": 0.5, "x": "24.0"}
