"""The router's lifecycle under the real engine and the pfSense dynamic providers, against the
fake pfSense API (HTTPS on 127.0.0.1): up, up again, a config change, refresh, drift, destroy.
Each step is asserted from the engine's events and from what the fake router holds."""

from __future__ import annotations

import pytest

from components.network.kinds import api_privileges
from tests.network.fake_pfrest import API_KEY, FakePfRest
from tools.engine import inline

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
