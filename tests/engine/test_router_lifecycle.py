"""The router's lifecycle under the real engine and the pfSense dynamic providers, against the
fake pfSense API (HTTPS on 127.0.0.1): up, up again, a config change, refresh, drift, destroy.
Each step is asserted from the engine's events and from what the fake router holds."""

from __future__ import annotations

import pytest

from components.network.kinds import STATIC_MAPPING, api_privileges
from tests.network.fake_pfrest import API_KEY, FakePfRest
from tests.network.legacy_names import mappings_named_by_node
from tools.engine import inline
from tools.imitations.engine_rules import diff_runs
from tools.imitations.harness import run_stack

from .conftest import assert_no_errors
from .router_stack import ca_of, router_program, self_signed, stack_file

FOREIGN_OVERRIDE = {"host": "nas", "domain": "lab.home.example.org", "ip": ["192.168.20.5"],
                    "descr": "the operator's own entry"}


@pytest.fixture
def router(tmp_path):
    cert, key = self_signed(tmp_path)
    fake = FakePfRest(apply_polls=1).start(tls=(cert, key))
    fake.objects["host_override"].append(dict(FOREIGN_OVERRIDE))
    yield fake, ca_of(cert)
    fake.stop()


def ours(fake) -> dict[str, int]:
    return {kind: len(rows) for kind, rows in fake.objects.items() if rows}


def test_router_up_again_update_refresh_drift_destroy(router, engine_bins, work):
    fake, ca_pem = router
    config = stack_file("dev", work / "dev.yaml", fake.https_url, ca_pem)
    engine = inline.EngineStack("dev", work, config_file=config, secrets={"pfsenseApiKey": API_KEY},
                                pack=False, program=router_program, echo=None)

    first = engine.up()
    inline.write_events(first, work / "up-1.events.jsonl")
    assert_no_errors(first)
    assert set(first.changes) == {"create"}
    [mapping] = fake.objects["static_mapping"]
    assert mapping["mac"] == "52:54:00:20:00:11" and mapping["ipaddr"] == "192.168.20.11"
    assert len(fake.objects["host_override"]) > 1  # ours plus the foreign one
    created = ours(fake)

    again = engine.up()
    assert_no_errors(again)
    assert set(again.changes) == {"same"}, again.changes
    assert ours(fake) == created

    # The node moves to another address: the DHCP mapping (keyed by MAC) and the API name's
    # override are updated in place; nothing is replaced or deleted.
    def move_node(cfg):
        cfg["k3s-platform:cluster"]["servers"][0]["ip"] = "192.168.20.12"

    engine = inline.EngineStack("dev", work, config_file=stack_file("dev", work / "dev.yaml", fake.https_url,
                                                                   ca_pem, move_node),
                                secrets={"pfsenseApiKey": API_KEY}, pack=False, program=router_program, echo=None)
    moved = engine.up()
    inline.write_events(moved, work / "up-moved.events.jsonl")
    assert_no_errors(moved)
    assert moved.changes.get("update", 0) >= 2 and not {"create", "delete", "replace"} & set(moved.changes)
    assert not moved.ops("replace", "create-replacement", "delete-replaced", "delete")
    assert fake.objects["static_mapping"][0]["ipaddr"] == "192.168.20.12"
    assert ours(fake) == created

    clean = engine.refresh()
    assert_no_errors(clean)
    assert not {"update", "delete"} & set(clean.changes), clean.changes

    # Someone edits our DNS override by hand: refresh sees it.
    [api_override] = [o for o in fake.objects["host_override"] if o["host"] == "k8s"]
    api_override["ip"] = ["192.168.20.99"]
    drift = engine.refresh()
    inline.write_events(drift, work / "refresh-drift.events.jsonl")
    assert_no_errors(drift)
    assert drift.changes.get("update", 0) >= 1, drift.changes

    # The operator rotates the router's API key (the old one is revoked at once) and, in the
    # same `up`, turns the VPN off: the updates carry the new key, and so must the deletes,
    # whose stored state holds the old one. Refresh and destroy then work with the new key.
    rotated = "rotated-key-9876543210"
    fake.api_key = rotated

    def vpn_off(cfg):
        cfg["k3s-platform:router"]["vpn"] = {"enabled": False}

    engine = inline.EngineStack("dev", work, config_file=stack_file("dev", work / "dev.yaml", fake.https_url,
                                                                   ca_pem, lambda c: (move_node(c), vpn_off(c))),
                                secrets={"pfsenseApiKey": rotated}, pack=False, program=router_program, echo=None)
    rotate = engine.up()
    inline.write_events(rotate, work / "up-rotated.events.jsonl")
    assert_no_errors(rotate)
    assert rotate.changes.get("delete", 0) > 0 and rotate.changes.get("update", 0) > 0, rotate.changes
    assert fake.objects["openvpn_server"] == []
    seen = engine.refresh()
    assert_no_errors(seen)
    assert not {"delete", "update"} & set(seen.changes), seen.changes
    assert {h.get("X-API-Key") for h in fake.headers_seen[-5:]} == {rotated}

    gone = engine.destroy()
    inline.write_events(gone, work / "destroy.events.jsonl")
    assert_no_errors(gone)
    assert set(gone.changes) == {"delete"}
    assert fake.objects["host_override"] == [FOREIGN_OVERRIDE]
    # Every call the providers made is one docs/router.md tells the operator to allow.
    allowed = {(m, path) for path, methods in api_privileges() for m in methods}
    assert {(m, p) for m, p, _, _ in fake.log} <= allowed
    assert {k: v for k, v in ours(fake).items() if k != "host_override"} == {}


# The operator's own interface (a hand-assigned NIC): pfSense gave it opt1, so ours gets opt2.
FOREIGN_INTERFACE = {"id": "opt1", "if": "igc2", "descr": "CAMERAS", "enable": True, "typev4": "static",
                     "ipaddr": "10.99.0.1", "subnet": 24}
NODES_VLAN = {"name": "nodes", "tag": 10, "parent": "igc1", "description": "k3s nodes", "cidr": "192.168.30.0/24",
              "gateway": "192.168.30.1", "dhcpRange": {"start": "192.168.30.100", "end": "192.168.30.199"}}


def _on_vlan(cfg, dhcp_end="192.168.30.199"):
    """dev with its node on a VLAN network of its own."""
    cfg["k3s-platform:network"]["vlans"] = [dict(NODES_VLAN, dhcpRange={"start": "192.168.30.100", "end": dhcp_end})]
    cfg["k3s-platform:cluster"]["network"] = "nodes"
    cfg["k3s-platform:cluster"]["servers"][0]["ip"] = "192.168.30.11"


def test_vlan_network_create_again_update_destroy(router, engine_bins, work):
    fake, ca_pem = router
    fake.objects["interface"].append(dict(FOREIGN_INTERFACE))

    def engine_for(edit):
        config = stack_file("dev", work / "dev.yaml", fake.https_url, ca_pem, edit)
        return inline.EngineStack("dev", work, config_file=config, secrets={"pfsenseApiKey": API_KEY},
                                  pack=False, program=router_program, echo=None)

    engine = engine_for(_on_vlan)
    first = engine.up()
    inline.write_events(first, work / "vlan-up-1.events.jsonl")
    assert_no_errors(first)
    assert set(first.changes) == {"create"}
    # Device, then the assignment pfSense numbered (opt2: opt1 is the operator's), then the DHCP
    # server, the node's mapping and the rules on that id — the fake refuses any other order.
    [device] = fake.objects["vlan"]
    assert (device["if"], device["tag"]) == ("igc1", 10) and device["descr"].startswith("k3s-platform")
    ours_iface = [i for i in fake.objects["interface"] if i["id"] != "opt1"]
    assert [(i["id"], i["if"], i["descr"], i["ipaddr"], i["subnet"]) for i in ours_iface] == [
        ("opt2", "igc1.10", "NODES", "192.168.30.1", 24)]
    [server] = fake.objects["dhcp_server"]
    assert (server["id"], server["range_from"], server["range_to"], server["dnsserver"]) == (
        "opt2", "192.168.30.100", "192.168.30.199", ["192.168.30.1"])
    [mapping] = fake.objects["static_mapping"]
    assert (mapping["parent_id"], mapping["ipaddr"]) == ("opt2", "192.168.30.11")
    on_vlan = sorted(r["descr"] for r in fake.objects["firewall_rule"] if r["interface"] == ["opt2"])
    assert on_vlan == ["k3s-platform: nodes to dns resolver", "k3s-platform: nodes to ntp",
                       "k3s-platform: nodes to the internet"], on_vlan
    assert "interfaces" not in fake.dirty and "dhcp" not in fake.dirty  # both applied
    created = ours(fake)

    again = engine.up()
    assert_no_errors(again)
    assert set(again.changes) == {"same"}, again.changes
    assert ours(fake) == created

    # A smaller pool: the DHCP server is updated in place, nothing else moves.
    engine = engine_for(lambda c: _on_vlan(c, dhcp_end="192.168.30.149"))
    smaller = engine.up()
    inline.write_events(smaller, work / "vlan-up-pool.events.jsonl")
    assert_no_errors(smaller)
    assert not smaller.ops("replace", "create-replacement", "delete-replaced", "delete", "create")
    updated = {e.rsplit("::", 1)[1] for e in smaller.ops("update")}
    assert "k3s-router-dhcpd-nodes" in updated and not {u for u in updated if "iface" in u or "vlan-" in u}, updated
    assert fake.objects["dhcp_server"][0]["range_to"] == "192.168.30.149"
    assert ours(fake) == created

    clean = engine.refresh()
    assert_no_errors(clean)
    assert not {"update", "delete"} & set(clean.changes), (clean.changes, [s for s in clean.steps() if s["op"] != "same"], clean.output[-30:])

    # Destroy: rules, mappings and the DHCP server go before the assignment, the assignment
    # before the device (the fake refuses a delete in use); the operator's interface stays.
    gone = engine.destroy()
    inline.write_events(gone, work / "vlan-destroy.events.jsonl")
    assert_no_errors(gone)
    assert fake.objects["interface"] == [FOREIGN_INTERFACE]
    assert fake.objects["vlan"] == [] and fake.objects["dhcp_server"] == []
    allowed = {(m, path) for path, methods in api_privileges() for m in methods}
    assert {(m, p) for m, p, _, _ in fake.log} <= allowed


# dev's one node, lab1: its mapping's name is its MAC (payloads.static_mapping_role).
LAB1_MAC = "52:54:00:20:00:11"
LAB1_MAPPING = "k3s-router-dhcp-52-54-00-20-00-11"
DYNAMIC = "pulumi-python:dynamic/network:"


def router_ops(run) -> dict[str, str]:
    """The engine's step for each router object and apply, by resource name."""
    return {s["name"]: s["op"] for s in run.steps() if s["type"].startswith(DYNAMIC)}


def planned_ops(old, new) -> dict[str, str]:
    """The change mode's step for each router object and apply, by resource name."""
    return {s.name: s.op for s in diff_runs(old, new) if s.type.startswith(DYNAMIC)}


def mapping_writes(fake) -> list[str]:
    """The methods of every write the providers sent to the mapping endpoint so far."""
    return [m for m, p in fake.writes() if p == STATIC_MAPPING.path]


def test_node_named_mappings_move_by_alias_and_a_rename_is_an_update(router, engine_bins, work):
    fake, ca_pem = router
    config = stack_file("dev", work / "dev.yaml", fake.https_url, ca_pem)

    def engine_for(config_file):
        return inline.EngineStack("dev", work, config_file=config_file, secrets={"pfsenseApiKey": API_KEY},
                                  pack=False, program=router_program, echo=None)

    # A stack made while mappings were named after their node.
    with mappings_named_by_node():
        first = engine_for(config).up()
        legacy = run_stack("dev", config, program=router_program)
    inline.write_events(first, work / "alias-up-legacy.events.jsonl")
    assert_no_errors(first)
    assert router_ops(first)["k3s-router-dhcp-lab1"] == "create"
    [made] = fake.objects["static_mapping"]
    assert made["mac"] == LAB1_MAC and made["hostname"] == "lab1"

    # Today's program: the alias moves the state; the engine creates and deletes nothing, and
    # the change mode says the same, step for step.
    engine = engine_for(config)
    preview = engine.preview()
    inline.write_events(preview, work / "alias-preview.events.jsonl")
    assert_no_errors(preview)
    ops = router_ops(preview)
    assert ops[LAB1_MAPPING] == "same" and "k3s-router-dhcp-lab1" not in ops, ops
    assert set(ops.values()) == {"same"}, ops
    current = run_stack("dev", config, program=router_program)
    assert ops == planned_ops(legacy, current)
    fake.log.clear()
    moved = engine.up()
    inline.write_events(moved, work / "alias-up.events.jsonl")
    assert_no_errors(moved)
    assert set(router_ops(moved).values()) == {"same"}
    assert fake.writes() == []  # nothing written to the router
    names = {r["urn"].rsplit("::", 1)[-1] for r in engine.export()["resources"]}
    assert LAB1_MAPPING in names and "k3s-router-dhcp-lab1" not in names

    # The node is renamed: an update of its one mapping (hostname and description) and of the
    # DHCP apply, as the change mode says; the router keeps one mapping for that MAC.
    def rename(cfg):
        cfg["k3s-platform:cluster"]["servers"][0]["name"] = "lab9"

    renamed = stack_file("dev", work / "dev-renamed.yaml", fake.https_url, ca_pem, rename)
    engine = engine_for(renamed)
    expected = planned_ops(current, run_stack("dev", renamed, program=router_program))
    preview = engine.preview()
    inline.write_events(preview, work / "rename-preview.events.jsonl")
    assert_no_errors(preview)
    ops = router_ops(preview)
    assert ops[LAB1_MAPPING] == "update", ops
    assert not {"create", "delete", "replace", "create-replacement", "delete-replaced"} & set(ops.values()), ops
    assert ops == expected
    fake.log.clear()
    up = engine.up()
    inline.write_events(up, work / "rename-up.events.jsonl")
    assert_no_errors(up)
    assert router_ops(up) == expected
    [mapping] = fake.objects["static_mapping"]
    assert (mapping["mac"], mapping["hostname"], mapping["descr"]) == (LAB1_MAC, "lab9", "k3s-platform: k3s server lab9")
    assert mapping_writes(fake) == ["PATCH"]  # updated in place: no create, no delete
    assert "dhcp" not in fake.dirty  # and applied
