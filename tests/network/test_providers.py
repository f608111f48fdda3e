"""The dynamic providers, called directly (as the engine would) against the fake pfrest
server, including after a pickle round trip like the one Pulumi stores in state."""

from __future__ import annotations

import base64

import dill
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.network.driver import RouterError
from components.network.kinds import OPENVPN_CLIENT_OVERRIDE, STATIC_MAPPING, natural_key, payload_hash
from components.network.resources import PfSenseApplyProvider, PfSenseObjectProvider

from .fake_pfrest import API_KEY


def _conn(url: str, key: str = API_KEY) -> dict:
    return {"apiUrl": url, "verifyTls": True, "caBundle": None, "timeoutSeconds": 5.0, "retries": 1,
            "applyTimeoutSeconds": 5.0, "apiKey": key}


def _mapping(mac="52:54:00:00:10:11", ip="192.168.10.11") -> dict:
    return {"parent_id": "lan", "mac": mac, "ipaddr": ip, "hostname": "cp1", "domain": "home.example.org",
            "descr": "k3s-platform: k3s server cp1"}


def _props(url: str, payload: dict) -> dict:
    return {**_conn(url), "kind": "static_mapping", "naturalKey": natural_key(STATIC_MAPPING, payload), "payload": payload}


def _roundtrip(provider):
    return dill.loads(base64.b64decode(serialize_provider(provider)))


def test_object_provider_crud_after_pickling(fake):
    provider = _roundtrip(PfSenseObjectProvider())
    props = _props(fake.url, _mapping())
    created = provider.create(props)
    assert created.id == "static_mapping:lan/52:54:00:00:10:11"
    assert "__provider" not in created.outs
    news = _props(fake.url, _mapping(ip="192.168.10.50"))
    assert provider.diff(created.id, created.outs, news).changes is True
    provider.update(created.id, created.outs, news)
    assert fake.listing("static_mapping")[0]["ipaddr"] == "192.168.10.50"
    provider.delete(created.id, news)
    assert fake.listing("static_mapping") == []
    provider.delete(created.id, news)  # already gone: no error


def test_delete_applies_its_subsystem_at_once(fake):
    provider = PfSenseObjectProvider()
    props = _props(fake.url, _mapping())
    provider.create(props)
    fake.dirty.clear()
    provider.delete("x", props)
    assert ("POST", "/api/v2/services/dhcp_server/apply") in fake.writes()
    assert "dhcp" not in fake.dirty


def test_diff_normalizes_and_replaces_on_new_key(fake):
    provider = PfSenseObjectProvider()
    olds = _props(fake.url, _mapping())
    same = _props(fake.url, {**_mapping(), "mac": "52:54:00:00:10:11".upper()})
    same["naturalKey"] = olds["naturalKey"]
    assert provider.diff("id", olds, same).changes is False
    moved = _props(fake.url, _mapping(mac="52:54:00:00:99:99"))
    result = provider.diff("id", olds, moved)
    assert result.changes and result.replaces == ["naturalKey"]


def test_an_input_unknown_in_a_preview_may_change_and_never_replaces(fake):
    # Rotating the API key updates every router object; in that preview an object whose payload
    # or key takes another one's output (an assigned interface id) sees an unknown value. The
    # diff must answer (the rehearsal found a TypeError here), say "may change" and leave any
    # replace to the `up`, which diffs again with the value known.
    from pulumi.output import UNKNOWN

    for provider in (PfSenseObjectProvider(), PfSenseApplyProvider()):
        olds = _props(fake.url, _mapping())
        for news in ({**olds, "payload": {**_mapping(), "parent_id": UNKNOWN}},
                     {**olds, "naturalKey": UNKNOWN},
                     {**olds, "objectsHash": UNKNOWN, "subsystem": "dhcp"}):
            result = provider.diff("id", olds, news)
            assert result.changes is None and result.replaces == [], news


def test_a_renamed_node_is_an_update_of_its_one_mapping(fake):
    # The mapping's natural key is the MAC: a new hostname (and description) is an update, not
    # a replace, and the router keeps one mapping for that MAC, now under the new name.
    provider = PfSenseObjectProvider()
    created = provider.create(_props(fake.url, _mapping()))
    renamed = _props(fake.url, {**_mapping(), "hostname": "cp9", "descr": "k3s-platform: k3s server cp9"})
    result = provider.diff(created.id, created.outs, renamed)
    assert result.changes is True and result.replaces == [] and not result.delete_before_replace
    provider.update(created.id, created.outs, renamed)
    [mapping] = fake.listing("static_mapping")
    assert (mapping["mac"], mapping["hostname"]) == ("52:54:00:00:10:11", "cp9")


def test_a_new_gui_port_is_an_update_that_reaches_the_router_there(fake):
    provider = PfSenseObjectProvider()
    port = fake.url.rsplit(":", 1)[1]
    olds = _props(fake.url.replace(f":{port}", ":1"), _mapping())  # the GUI's old port, gone now
    news = _props(fake.url, _mapping())
    result = provider.diff("id", olds, news)
    assert result.changes is True and result.replaces == []
    provider.update("id", olds, news)
    assert fake.listing("static_mapping")[0]["ipaddr"] == "192.168.10.11"
    apply = PfSenseApplyProvider().diff("apply:dhcp", {**olds, "subsystem": "dhcp", "objectsHash": "h"},
                                        {**news, "subsystem": "dhcp", "objectsHash": "h"})
    assert apply.changes is True and apply.replaces == []


def test_another_router_host_replaces_deleting_on_the_old_one_first(fake):
    olds = _props("https://192.0.2.1", _mapping())
    result = PfSenseObjectProvider().diff("id", olds, _props(fake.url, _mapping()))
    assert result.replaces == ["apiUrl"] and result.delete_before_replace is True
    apply = PfSenseApplyProvider().diff("apply:dhcp", {**olds, "subsystem": "dhcp", "objectsHash": "h"},
                                        {**_props(fake.url, _mapping()), "subsystem": "dhcp", "objectsHash": "h"})
    assert apply.replaces == ["apiUrl"]


def test_rejected_key_fails_create_with_router_url(fake):
    provider = PfSenseObjectProvider()
    props = {**_props(fake.url, _mapping()), "apiKey": "not-the-key"}
    with pytest.raises(RouterError, match=fake.url.replace(".", r"\.")):
        provider.create(props)
    assert fake.listing("static_mapping") == []


def test_apply_provider_after_pickling_waits_and_reapplies_on_hash_change(fake):
    objects = PfSenseObjectProvider()
    objects.create(_props(fake.url, _mapping()))
    apply = _roundtrip(PfSenseApplyProvider())
    key = {"parent_id": "lan", "mac": "52:54:00:00:10:11"}
    props = {**_conn(fake.url), "subsystem": "dhcp", "objects": [{"kind": "static_mapping", "payload": key}],
             "objectsHash": payload_hash(_mapping())}
    assert apply.create(props).id == "apply:dhcp"
    assert "dhcp" not in fake.dirty
    assert apply.diff("apply:dhcp", props, dict(props)).changes is False
    changed = {**props, "objectsHash": payload_hash(_mapping(ip="192.168.10.60"))}
    assert apply.diff("apply:dhcp", props, changed).changes is True


def test_apply_provider_does_not_apply_a_half_created_subsystem(fake):
    apply = PfSenseApplyProvider()
    props = {**_conn(fake.url), "subsystem": "dhcp",
             "objects": [{"kind": "static_mapping", "payload": {"parent_id": "lan", "mac": "52:54:00:00:10:11"}}],
             "objectsHash": "h"}
    with pytest.raises(RouterError, match="objects missing"):
        apply.create(props)
    assert not any(p.endswith("/apply") for m, p in fake.writes())


def test_read_reports_drift_and_the_next_diff_repairs_it(fake):
    provider = _roundtrip(PfSenseObjectProvider())
    props = _props(fake.url, _mapping())
    created = provider.create(props)
    state = {**created.outs}
    # Untouched on the router (pfSense answers with extra fields and ids): no drift.
    fresh = provider.read(created.id, state)
    assert fresh.id == created.id and fresh.outs["payload"] == props["payload"]
    assert provider.diff(created.id, fresh.outs, props).changes is False
    # Someone edits the mapping by hand: refresh shows the live value, `up` puts it back.
    fake.objects["static_mapping"][0]["ipaddr"] = "192.168.10.99"
    drifted = provider.read(created.id, state)
    assert drifted.outs["payload"]["ipaddr"] == "192.168.10.99"
    assert drifted.outs["apiKey"] == API_KEY and drifted.outs["kind"] == "static_mapping"
    assert provider.diff(created.id, drifted.outs, props).changes is True
    provider.update(created.id, drifted.outs, props)
    assert fake.listing("static_mapping")[0]["ipaddr"] == "192.168.10.11"


def test_read_of_an_object_deleted_by_hand_drops_it_from_state(fake):
    provider = PfSenseObjectProvider()
    props = _props(fake.url, _mapping())
    created = provider.create(props)
    fake.objects["static_mapping"].clear()
    gone = provider.read(created.id, created.outs)
    assert gone.id == "" and gone.outs == {}


def test_read_keeps_fields_pfsense_cannot_show_back(fake):
    """Private keys (`sensitive`) and `$refid:` references are never reported as drift."""
    provider = PfSenseObjectProvider()
    payload = {"descr": "k3s-platform-vpn-server", "type": "server", "crt": "-----BEGIN CERTIFICATE-----\nX\n"
               "-----END CERTIFICATE-----\n", "prv": "-----BEGIN EC PRIVATE KEY-----\nY\n-----END EC PRIVATE KEY-----\n"}
    props = {**_conn(fake.url), "kind": "certificate", "naturalKey": "certificate:k3s-platform-vpn-server",
             "payload": payload}
    provider.create(props)
    row = fake.objects["certificate"][0]
    row["prv"], row["crt"] = "********", row["crt"].rstrip("\n")  # masked key, PEM without final newline
    assert provider.read("x", props).outs["payload"] == payload


def test_apply_read_marks_pending_changes_for_the_next_up(fake):
    objects = PfSenseObjectProvider()
    objects.create(_props(fake.url, _mapping()))
    apply = _roundtrip(PfSenseApplyProvider())
    key = {"parent_id": "lan", "mac": "52:54:00:00:10:11"}
    props = {**_conn(fake.url), "subsystem": "dhcp", "objects": [{"kind": "static_mapping", "payload": key}],
             "objectsHash": payload_hash(_mapping())}
    created = apply.create(props)
    assert apply.read(created.id, created.outs).outs["objectsHash"] == props["objectsHash"]
    fake.dirty.add("dhcp")  # a change made elsewhere, not applied yet
    pending = apply.read(created.id, created.outs)
    assert pending.outs["objectsHash"] == "pending"
    assert apply.diff(created.id, pending.outs, props).changes is True


def test_providers_hold_no_unpicklable_state():
    """No lock, socket or SSL context on the provider objects or captured by value."""
    import pickle

    for provider in (PfSenseObjectProvider(), PfSenseApplyProvider()):
        assert vars(provider) == {}
        pickle.dumps(provider)
        assert serialize_provider(provider)


def _block(name: str = "bob") -> dict:
    return {"common_name": name, "block": True, "disable": False,
            "description": f"k3s-platform: revoked vpn admin {name}", "server_list": []}


def test_revocation_override_is_created_checked_repaired_and_deleted(fake):
    provider = _roundtrip(PfSenseObjectProvider())
    props = {**_conn(fake.url), "kind": "openvpn_client_override",
             "naturalKey": natural_key(OPENVPN_CLIENT_OVERRIDE, _block()), "payload": _block()}
    created = provider.create(props)
    assert created.id == "openvpn_client_override:bob"
    assert ("POST", "/api/v2/vpn/openvpn/cso") in fake.writes()
    assert fake.listing("openvpn_client_override") == [{**_block(), "id": 0}]
    # pfrest applies an override on write (always_apply): the OpenVPN "apply" only checks it is there.
    apply = PfSenseApplyProvider()
    apply.create({**_conn(fake.url), "subsystem": "openvpn", "objectsHash": payload_hash(_block()),
                  "objects": [{"kind": "openvpn_client_override", "payload": {"common_name": "bob"}}]})
    assert not any(p.endswith("/apply") for _, p in fake.writes())
    # Someone unticks Block by hand: refresh shows it, the next `up` blocks again.
    fake.objects["openvpn_client_override"][0]["block"] = False
    drifted = provider.read(created.id, created.outs)
    assert drifted.outs["payload"]["block"] is False
    assert provider.diff(created.id, drifted.outs, props).changes is True
    provider.update(created.id, drifted.outs, props)
    assert fake.listing("openvpn_client_override")[0]["block"] is True
    # Taking the name off revokedClients deletes the override (the admin may connect again).
    provider.delete(created.id, props)
    assert fake.listing("openvpn_client_override") == []
    assert ("DELETE", "/api/v2/vpn/openvpn/cso") in fake.writes()


def test_read_and_delete_use_the_connection_the_stack_config_gives_now():
    from pulumi.dynamic import Config

    from components.network.resources import current_connection

    stored = {"apiUrl": "https://192.168.10.1", "apiKey": "old-key", "kind": "host_override"}
    config = Config({"k3s-platform:pfsenseApiKey": "new-key",
                     "k3s-platform:router": '{"apiUrl": "https://192.168.10.1:8443"}'}, "k3s-platform")
    now = current_connection(stored, config)
    assert now["apiKey"] == "new-key" and now["apiUrl"] == "https://192.168.10.1:8443"
    # Another router host: the objects live where they were made; only the key follows.
    moved = Config({"k3s-platform:router": {"apiUrl": "https://10.0.0.1"}}, "k3s-platform")
    assert current_connection(stored, moved)["apiUrl"] == "https://192.168.10.1"
    assert current_connection(stored, None) == stored
