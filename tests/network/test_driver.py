"""PfRestDriver against the fake pfrest server on 127.0.0.1: natural keys survive id
renumbering, errors name the router URL (never the key), retries are bounded, applies wait."""

from __future__ import annotations

import socket

import pytest

from components.network.driver import PfRestDriver, RouterAuthError, RouterError
from components.network.kinds import FIREWALL_RULE, HOST_OVERRIDE, STATIC_MAPPING, VLAN

from .conftest import make_driver
from .fake_pfrest import API_KEY


def _override(host: str, ip: str = "192.168.10.11") -> dict:
    return {"host": host, "domain": "home.example.org", "ip": [ip], "descr": "k3s-platform: ingress", "aliases": []}


def _rule(descr: str, port: str) -> dict:
    return {
        "type": "pass", "interface": ["wan"], "ipprotocol": "inet", "protocol": "tcp",
        "source": "any", "destination": "192.168.10.11", "destination_port": port, "descr": descr,
    }


def test_upsert_creates_then_updates_in_place(fake, driver):
    driver.upsert(HOST_OVERRIDE, _override("blog"))
    driver.upsert(HOST_OVERRIDE, _override("blog", "192.168.10.1"))
    rows = fake.listing("host_override")
    assert len(rows) == 1 and rows[0]["ip"] == ["192.168.10.1"]
    assert [m for m, _ in fake.writes()] == ["POST", "PATCH"]


def check_survives_renumbering(fake, driver) -> None:
    """Create a, b, c, d; delete a (later ids shift down); update c: c changes, nothing else."""
    for name, port in (("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")):
        driver.upsert(FIREWALL_RULE, _rule(f"k3s-platform: {name}", port))
    driver.delete(FIREWALL_RULE, _rule("k3s-platform: a", "1"))
    driver.upsert(FIREWALL_RULE, _rule("k3s-platform: c", "443"))
    by_descr = {r["descr"]: r["destination_port"] for r in fake.listing("firewall_rule")}
    assert by_descr == {"k3s-platform: b": "2", "k3s-platform: c": "443", "k3s-platform: d": "4"}


def test_objects_found_by_natural_key_after_ids_renumber(fake, driver):
    check_survives_renumbering(fake, driver)


class _IndexKeyedDriver(PfRestDriver):
    """A driver that remembers pfSense ids instead of natural keys (the bug to catch)."""

    ids: dict = {}

    def upsert(self, kind, payload):
        key = payload["descr"]
        if key in self.ids:
            return self.request("PATCH", kind.path, body={**payload, "id": self.ids[key]})
        data = self.request("POST", kind.path, body=dict(payload))
        self.ids[key] = data["id"]
        return data


def test_renumbering_check_catches_a_mis_keyed_driver(fake):
    bad = _IndexKeyedDriver(fake.url, API_KEY, retries=0, sleep=lambda s: None)
    bad.ids = {}
    with pytest.raises(AssertionError):
        check_survives_renumbering(fake, bad)


def test_static_mapping_keyed_by_mac_case_insensitively(fake, driver):
    payload = {"parent_id": "lan", "mac": "52:54:00:AA:BB:CC", "ipaddr": "192.168.10.11", "hostname": "cp1", "descr": "x"}
    driver.upsert(STATIC_MAPPING, payload)
    driver.upsert(STATIC_MAPPING, {**payload, "mac": "52:54:00:aa:bb:cc", "hostname": "cp1-new"})
    rows = fake.listing("static_mapping")
    assert len(rows) == 1 and rows[0]["hostname"] == "cp1-new"
    posted = [q for m, p, q, b in fake.log if m == "GET" and p.endswith("static_mappings")]
    assert all(q == {"parent_id": "lan"} for q in posted)


def test_delete_tolerates_object_already_gone(fake, driver):
    assert driver.delete(HOST_OVERRIDE, _override("nothere")) is False
    driver.upsert(HOST_OVERRIDE, _override("blog"))
    assert driver.delete(HOST_OVERRIDE, _override("blog")) is True
    assert fake.listing("host_override") == []


def test_rejected_key_names_router_and_hides_key(fake):
    bad = make_driver(fake.url, key="wrong-secret-key")
    with pytest.raises(RouterAuthError) as err:
        bad.upsert(HOST_OVERRIDE, _override("blog"))
    message = str(err.value)
    assert fake.url in message and "401" in message and "pfsenseApiKey" in message
    assert "wrong-secret-key" not in message
    assert len(fake.log) == 1  # auth failures are not retried


def test_unreachable_router_names_url_after_bounded_retries():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here now
    url = f"http://127.0.0.1:{port}"
    sleeps = []
    drv = make_driver(url, retries=2, sleep=sleeps.append, backoff=0.1)
    with pytest.raises(RouterError) as err:
        drv.upsert(HOST_OVERRIDE, _override("blog"))
    assert url in str(err.value) and "3 attempts" in str(err.value)
    assert sleeps == [0.1, 0.2]


def test_5xx_then_success_is_retried(fake, driver):
    fake.faults[("GET", "/api/v2/services/dns_resolver/host_overrides")] = [503]
    driver.upsert(HOST_OVERRIDE, _override("blog"))
    assert len(fake.listing("host_override")) == 1


def test_persistent_5xx_gives_up(fake, driver):
    fake.faults[("GET", "/api/v2/services/dns_resolver/host_overrides")] = [503] * 10
    with pytest.raises(RouterError, match="failed after 3 attempts: HTTP 503"):
        driver.upsert(HOST_OVERRIDE, _override("blog"))


def test_404_on_unknown_endpoint_is_a_clear_error(fake, driver):
    with pytest.raises(RouterError, match=r"HTTP 404"):
        driver.request("GET", "/api/v2/services/haproxy/nothing")


def test_changes_pending_until_apply_which_completes_asynchronously(fake, driver):
    driver.upsert(HOST_OVERRIDE, _override("blog"))
    assert driver.is_applied("dns") is False
    fake.apply_polls = 3
    driver.apply("dns", [("host_override", _override("blog"))])
    assert driver.is_applied("dns") is True
    gets = [p for m, p, _, _ in fake.log if m == "GET" and p.endswith("/dns_resolver/apply")]
    assert len(gets) >= 3  # it polled until the background apply finished


def test_apply_times_out_with_clear_error(fake):
    fake.apply_polls = 10_000
    drv = make_driver(fake.url, apply_timeout=0.0)
    drv.upsert(HOST_OVERRIDE, _override("blog"))
    with pytest.raises(RouterError, match="still pending"):
        drv.apply("dns")


def test_apply_refuses_when_an_object_of_the_subsystem_is_missing(fake, driver):
    driver.upsert(HOST_OVERRIDE, _override("blog"))
    with pytest.raises(RouterError, match="objects missing"):
        driver.apply("dns", [("host_override", _override("blog")), ("host_override", _override("app"))])
    assert not any(m == "POST" and p.endswith("/apply") for m, p, _, _ in fake.log)


def test_refid_references_resolved_by_description(fake, driver):
    from components.network.kinds import CERTIFICATE_AUTHORITY, OPENVPN_SERVER

    driver.upsert(CERTIFICATE_AUTHORITY, {"descr": "k3s-platform-vpn-ca", "crt": "PEM"})
    refid = fake.listing("certificate_authority")[0]["refid"]
    driver.upsert(OPENVPN_SERVER, {"description": "k3s-platform: vpn",
                                   "caref": "$refid:certificate_authority:k3s-platform-vpn-ca"})
    assert fake.listing("openvpn_server")[0]["caref"] == refid
    with pytest.raises(RouterError, match="does not exist"):
        driver.upsert(OPENVPN_SERVER, {"description": "k3s-platform: vpn2", "caref": "$refid:certificate:missing"})


def test_duplicate_natural_keys_on_router_are_not_guessed(fake, driver):
    fake.objects["firewall_rule"] += [_rule("k3s-platform: a", "1"), _rule("k3s-platform: a", "2")]
    with pytest.raises(RouterError, match="share the key"):
        driver.upsert(FIREWALL_RULE, _rule("k3s-platform: a", "3"))


def test_driver_repr_hides_key():
    assert API_KEY not in repr(PfRestDriver("https://r", API_KEY))


def test_tls_verification_is_on_by_default():
    import ssl

    ctx = PfRestDriver._ssl_context(True, None)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname


def test_child_lookup_never_adopts_a_twin_under_another_parent(fake, driver):
    """Static mappings are children of a DHCP server (pfrest `parent_id` = interface): the
    same MAC under `opt1` is another object, even if a router ignored the query filter."""
    mapping = {"parent_id": "lan", "mac": "52:54:00:00:10:11", "ipaddr": "192.168.10.11", "hostname": "cp1"}
    fake.objects["static_mapping"].append({**mapping, "parent_id": "opt1", "ipaddr": "192.168.30.11"})
    assert driver.find(STATIC_MAPPING, mapping) is None
    driver.upsert(STATIC_MAPPING, mapping)
    assert [m for m, _ in fake.writes()] == ["POST"]
    assert sorted(r["parent_id"] for r in fake.listing("static_mapping")) == ["lan", "opt1"]


def test_update_does_not_resend_fields_pfrest_marks_not_editable(fake, driver):
    """InterfaceVLAN.if is `editable: false`: a PATCH carries the id and the changed fields."""
    vlan = {"if": "igc1", "tag": 20, "descr": "k3s-platform: iot"}
    driver.upsert(VLAN, vlan)
    driver.upsert(VLAN, {**vlan, "descr": "k3s-platform: iot (192.168.20.0/24)"})
    method, path, _, body = [entry for entry in fake.log if entry[0] != "GET"][-1]
    assert (method, path) == ("PATCH", VLAN.path)
    assert "if" not in body and body["tag"] == 20 and body["id"] == 0
    assert fake.listing("vlan")[0]["if"] == "igc1"


def test_haproxy_apply_turns_the_service_on(fake, driver):
    # pfrest's HAProxy settings default to enable=false; an apply alone would report
    # success with nothing listening on 80/443/6443.
    from components.network.kinds import BACKEND_MARK, HAPROXY_BACKEND
    backend = {"name": "api", "servers": [{"name": "cp1", "address": "192.168.10.11", "port": "6443"}],
               "advanced_backend": BACKEND_MARK}
    driver.upsert(HAPROXY_BACKEND, backend)
    assert not driver.is_applied("haproxy")
    driver.apply("haproxy", [("haproxy_backend", {"name": "api"})])
    assert fake.settings["/api/v2/services/haproxy/settings"]["enable"] is True
    assert driver.is_applied("haproxy")
    # Switched off by hand later: refresh sees it as pending, the next apply turns it on.
    fake.settings["/api/v2/services/haproxy/settings"]["enable"] = False
    assert not driver.is_applied("haproxy")
    driver.apply("haproxy")
    assert fake.settings["/api/v2/services/haproxy/settings"]["enable"] is True
    patches = [(m, p) for m, p in fake.writes() if p.endswith("/haproxy/settings")]
    assert patches == [("PATCH", "/api/v2/services/haproxy/settings")] * 2
