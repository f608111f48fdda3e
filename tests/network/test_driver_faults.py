"""Issue 16: the driver under faults. Nothing lost, nothing injected, nothing hung, no false ok.

Writes whose outcome is unknown (committed, then 5xx or silence) are re-decided from a fresh
lookup by natural key, never re-sent blindly; pfSense's renumbering never makes the driver
touch an object that is not ours, or report success when it did; redirects are refused
(the API key stays home); every request has one deadline and a largest answer; transport and
shape faults become RouterErrors naming the endpoint, never raw Python exceptions."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from components.network.driver import RouterError
from components.network.kinds import FIREWALL_RULE, HOST_OVERRIDE, STATIC_MAPPING

from .conftest import make_driver
from .fake_pfrest import API_KEY, FakePfRest

RULES = FIREWALL_RULE.plural
RULE = FIREWALL_RULE.path


def _rule(descr: str, port: str = "443") -> dict:
    return {"type": "pass", "interface": ["wan"], "ipprotocol": "inet", "protocol": "tcp", "source": "any",
            "destination": "192.168.10.11", "destination_port": port, "descr": descr}


def _override(host: str, ip: str = "192.168.10.11") -> dict:
    return {"host": host, "domain": "home.example.org", "ip": [ip], "descr": "k3s-platform: ingress", "aliases": []}


OPERATOR_RULE = _rule("hand-made: ssh from the office", "22")


def _descrs(fake) -> list[str]:
    return [r["descr"] for r in fake.listing("firewall_rule")]


def _no_key(err: BaseException) -> str:
    text = str(err)
    assert API_KEY not in text
    return text


# -- 1. non-idempotent writes with an unknown outcome ------------------------------------


@pytest.mark.parametrize("fault", [("commit", 503), ("commit", 502), ("commit", "timeout")])
def test_create_that_committed_then_failed_is_not_created_twice(fake, fault):
    driver = make_driver(fake.url, timeout=0.5)
    fake.faults[("POST", HOST_OVERRIDE.path)] = [fault]
    driver.upsert(HOST_OVERRIDE, _override("blog"))
    assert len(fake.listing("host_override")) == 1
    assert [m for m, _ in fake.writes()] == ["POST"]  # found by key on the retry, not re-sent
    driver.upsert(HOST_OVERRIDE, _override("blog"))  # the next run adopts it, no refusal
    assert len(fake.listing("host_override")) == 1


def test_create_that_did_not_commit_is_sent_again(fake, driver):
    fake.faults[("POST", HOST_OVERRIDE.path)] = [503]  # refused before doing anything
    driver.upsert(HOST_OVERRIDE, _override("blog"))
    assert len(fake.listing("host_override")) == 1
    assert [m for m, _ in fake.writes()] == ["POST", "POST"]


@pytest.mark.parametrize("fault", [("commit", 503), ("commit", "timeout")])
def test_delete_that_committed_then_failed_never_deletes_the_next_object(fake, fault):
    """The incident: DELETE id=0 commits, answers 5xx; pfSense renumbers, the operator's rule
    becomes id 0, and a blind retry deleted it while reporting success."""
    driver = make_driver(fake.url, timeout=0.5)
    fake.objects["firewall_rule"] += [_rule("k3s-platform: wan-https"), OPERATOR_RULE]
    fake.faults[("DELETE", RULE)] = [fault]
    assert driver.delete(FIREWALL_RULE, _rule("k3s-platform: wan-https")) is True
    assert _descrs(fake) == [OPERATOR_RULE["descr"]]
    assert [m for m, _ in fake.writes()] == ["DELETE"]


def test_delete_resolves_the_id_again_when_another_admin_renumbered(fake, driver):
    """Someone deletes rule 0 between our lookup and our DELETE: our id now points past the
    end (404). The driver looks the key up again and deletes the right object."""
    fake.objects["firewall_rule"] += [OPERATOR_RULE, _rule("k3s-platform: wan-https")]
    fake.faults[("DELETE", RULE)] = [("renumber", "firewall_rule", 0)]
    assert driver.delete(FIREWALL_RULE, _rule("k3s-platform: wan-https")) is True
    assert fake.listing("firewall_rule") == []
    assert [q["id"] for m, p, q, _ in fake.log if m == "DELETE"] == ["1", "0"]


def test_delete_that_hit_another_object_is_never_reported_as_success(fake, driver):
    """If renumbering makes pfSense delete a neighbour, the driver says so and what to do."""
    other = _rule("hand-made: monitoring", "9100")
    fake.objects["firewall_rule"] += [OPERATOR_RULE, _rule("k3s-platform: wan-https"), other]
    fake.faults[("DELETE", RULE)] = [("renumber", "firewall_rule", 0)]
    with pytest.raises(RouterError) as err:
        driver.delete(FIREWALL_RULE, _rule("k3s-platform: wan-https"))
    text = _no_key(err.value)
    assert "hand-made: monitoring" in text and "k3s-platform: wan-https" in text and "Config History" in text


def test_update_goes_to_the_id_the_key_has_now(fake, driver):
    fake.objects["firewall_rule"] += [OPERATOR_RULE, _rule("k3s-platform: wan-https")]
    fake.faults[("PATCH", RULE)] = [("renumber", "firewall_rule", 0)]
    driver.upsert(FIREWALL_RULE, _rule("k3s-platform: wan-https", "8443"))
    assert fake.listing("firewall_rule") == [dict(_rule("k3s-platform: wan-https", "8443"), id=0)]


def test_update_that_committed_then_failed_is_checked_and_sent_to_the_same_key(fake):
    driver = make_driver(fake.url, timeout=0.5)
    fake.objects["firewall_rule"] += [_rule("k3s-platform: wan-https"), OPERATOR_RULE]
    fake.faults[("PATCH", RULE)] = [("commit", "timeout")]
    driver.upsert(FIREWALL_RULE, _rule("k3s-platform: wan-https", "8443"))
    assert {r["descr"]: r["destination_port"] for r in fake.listing("firewall_rule")} == {
        "k3s-platform: wan-https": "8443", OPERATOR_RULE["descr"]: "22"}


def test_write_that_never_gets_an_answer_gives_up_with_a_clear_error(fake):
    driver = make_driver(fake.url, timeout=0.3, retries=1)
    fake.faults[("POST", HOST_OVERRIDE.path)] = [503, 503]
    with pytest.raises(RouterError, match="no certain outcome after 2 attempts") as err:
        driver.upsert(HOST_OVERRIDE, _override("blog"))
    assert fake.url in _no_key(err.value) and "re-run `pulumi up`" in str(err.value)


def test_child_objects_get_the_same_care(fake):
    """Static mappings (children of a DHCP server, `parent_id`) share the write path."""
    driver = make_driver(fake.url, timeout=0.5)
    mapping = {"parent_id": "lan", "mac": "52:54:00:00:10:11", "ipaddr": "192.168.10.11", "hostname": "cp1"}
    fake.faults[("POST", STATIC_MAPPING.path)] = [("commit", 503)]
    driver.upsert(STATIC_MAPPING, mapping)
    fake.objects["static_mapping"].append({**mapping, "mac": "52:54:00:00:10:99", "hostname": "by-hand"})
    fake.faults[("DELETE", STATIC_MAPPING.path)] = [("commit", 503)]
    assert driver.delete(STATIC_MAPPING, mapping) is True
    assert [r["hostname"] for r in fake.listing("static_mapping")] == ["by-hand"]


def test_apply_post_is_retried_it_is_idempotent(fake, driver):
    driver.upsert(HOST_OVERRIDE, _override("blog"))
    fake.faults[("POST", "/api/v2/services/dns_resolver/apply")] = [("commit", 503)]
    driver.apply("dns", [("host_override", _override("blog"))])
    assert driver.is_applied("dns") is True


# -- 11. redirects -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_is_an_error_naming_the_location_and_the_key_stays_home(fake, status):
    elsewhere = FakePfRest().start()
    try:
        location = f"{elsewhere.url}{RULES}"
        fake.raw[("GET", RULES)] = [
            f"HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()]
        with pytest.raises(RouterError) as err:
            make_driver(fake.url).find(FIREWALL_RULE, _rule("k3s-platform: a"))
        text = _no_key(err.value)
        assert location in text and "redirect" in text and "router.apiUrl" in text
        assert elsewhere.headers_seen == []  # nothing, and so no key, went to the other origin
    finally:
        elsewhere.stop()


# -- 12. one deadline per request, a largest answer --------------------------------------


def _trickle(seconds: float, step: float = 0.05):
    def write(wfile) -> None:
        wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            wfile.write(b" ")
            wfile.flush()
            time.sleep(step)
    return write


def _endless_chunks(seconds: float):
    def write(wfile) -> None:
        wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            wfile.write(b"1\r\n \r\n")
            wfile.flush()
            time.sleep(0.01)
    return write


@pytest.mark.parametrize("answer", [_trickle(6), _endless_chunks(6)], ids=["slow-body", "endless-chunked"])
def test_a_slow_or_endless_answer_ends_at_the_request_deadline(fake, answer):
    fake.raw[("GET", RULES)] = [answer]
    driver = make_driver(fake.url, timeout=0.5, retries=0)
    started = time.monotonic()
    with pytest.raises(RouterError) as err:
        driver.list(FIREWALL_RULE)
    assert time.monotonic() - started < 2.0
    assert f"GET {RULES}" in _no_key(err.value) and "within 0.5s" in str(err.value)


def test_an_answer_larger_than_the_bound_is_refused(fake):
    fake.objects["firewall_rule"] += [_rule(f"k3s-platform: r{i}") for i in range(50)]
    with pytest.raises(RouterError, match="answer larger than 2000 bytes"):
        make_driver(fake.url, max_body=2000).list(FIREWALL_RULE)
    body = b" " * 5000
    fake.raw[("GET", RULES)] = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"]
    with pytest.raises(RouterError, match="answer larger than 2000 bytes"):
        make_driver(fake.url, max_body=2000).list(FIREWALL_RULE)


# -- 13. transport and shape faults ------------------------------------------------------


def _json(data, status: str = "200 OK") -> bytes:
    body = json.dumps({"code": 200, "status": "ok", "data": data}).encode()
    return f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


TRUNCATED = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"data\": ["


@pytest.mark.parametrize("raw,why", [
    (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "bad status line"),
    (TRUNCATED, "truncated answer"),
    (b"", "closed without an answer"),
    (_json([1, 2]), "item 0 is int, not an object"),
    (_json(["a"]), "item 0 is str, not an object"),
    (_json({"not": "a list"}), "did not return a list"),
    (_json([{"descr": "k3s-platform: a"}]), "no usable `id`"),
    (_json([{"descr": "k3s-platform: a", "id": None}]), "no usable `id`"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", "not a pfrest envelope"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "non-JSON"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + b"[" * 200000, "non-JSON"),
], ids=["bad-status-line", "truncated", "empty", "int-items", "str-items", "not-a-list", "no-id", "null-id",
        "not-an-envelope", "not-json", "nested-json"])
def test_transport_and_shape_faults_are_router_errors_naming_the_endpoint(fake, raw, why):
    fake.raw[("GET", RULES)] = [raw] * 3
    with pytest.raises(RouterError) as err:
        make_driver(fake.url, retries=2).upsert(FIREWALL_RULE, _rule("k3s-platform: a"))
    text = _no_key(err.value)
    assert fake.url in text and RULES in text and why in text
    assert fake.writes() == []


def test_transport_faults_on_reads_are_retried(fake, driver):
    fake.raw[("GET", RULES)] = [TRUNCATED, b"garbage\r\n\r\n"]
    driver.upsert(FIREWALL_RULE, _rule("k3s-platform: a"))
    assert _descrs(fake) == ["k3s-platform: a"]


def test_transport_fault_on_a_write_is_not_resent_blindly(fake, driver):
    fake.raw[("POST", RULE)] = [TRUNCATED]  # not handled: nothing committed, the lookup says so
    driver.upsert(FIREWALL_RULE, _rule("k3s-platform: a"))
    assert _descrs(fake) == ["k3s-platform: a"]
    assert [m for m, _ in fake.writes()] == ["POST", "POST"]
    assert [m for m, *_ in fake.log].count("GET") == 3  # looked up before each POST, and verified after


@pytest.mark.parametrize("data,why", [("yes", "`applied` is None"), ([True], "`applied` is None"),
                                      ({"applied": "true"}, "`applied` is 'true'"), ({}, "`applied` is None")])
def test_apply_status_of_the_wrong_type_is_a_router_error(fake, driver, data, why):
    path = "/api/v2/services/dns_resolver/apply"
    fake.raw[("GET", path)] = [_json(data)]
    with pytest.raises(RouterError) as err:
        driver.is_applied("dns")
    assert path in _no_key(err.value) and why in str(err.value)


def test_tls_failure_is_a_router_error_naming_the_endpoint(fake):
    """https:// to a server that speaks plain HTTP: the handshake fails."""
    url = fake.url.replace("http://", "https://")
    with pytest.raises(RouterError) as err:
        make_driver(url, retries=1).list(FIREWALL_RULE)
    text = _no_key(err.value)
    assert url in text and f"GET {RULES}" in text and "TLS" in text


def test_tls_failure_after_the_handshake_is_a_router_error(tmp_path):
    """A TLS server that drops the connection mid-answer: no raw ssl exception escapes."""
    import ssl
    import subprocess

    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            with ctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(65536)
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"da")
            # closed mid-body

    threading.Thread(target=serve, daemon=True).start()
    url = f"https://127.0.0.1:{listener.getsockname()[1]}"
    driver = make_driver(url, ca_bundle=cert.read_text(), retries=1, timeout=2.0)
    try:
        with pytest.raises(RouterError) as err:
            driver.list(FIREWALL_RULE)
    finally:
        listener.close()
    assert url in _no_key(err.value) and f"GET {RULES}" in str(err.value)
