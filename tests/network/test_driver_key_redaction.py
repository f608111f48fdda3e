"""Issue 27, cause 3: the router API key never reaches error text, and a request that was
never sent is neither reported as "outcome unknown" nor retried.

A hostile router on 127.0.0.1 answers every request with a canned reply that echoes the key
in the ways a real one (or a proxy in front of it) might: whole, split by spaces or line
breaks, at the edge of where a message is cut, in a Location header, with terminal escapes.
"""

from __future__ import annotations

import json
import socket
import threading

import pytest

from components.network.driver import RouterError, RouterOutcomeUnknown, outside_text
from components.network.kinds import FIREWALL_RULE, HOST_OVERRIDE

from .conftest import make_driver

KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0aabbccddeeff0011"


class HostileRouter:
    """Answers each request with `reply(request_bytes)`; counts the requests it got."""

    def __init__(self, reply) -> None:
        self.reply = reply
        self.requests: list[bytes] = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                data = conn.recv(65536)
                self.requests.append(data)
                conn.sendall(self.reply(data))

    def close(self) -> None:
        self.listener.close()


def _http(status: int, body: str | bytes, headers: str = "") -> bytes:
    raw = body.encode() if isinstance(body, str) else body
    return (f"HTTP/1.1 {status} X\r\nContent-Length: {len(raw)}\r\nConnection: close\r\n{headers}\r\n").encode() + raw


def _spaced(text: str, every: int, sep: str) -> str:
    return sep.join(text[i:i + every] for i in range(0, len(text), every))


ECHOES = {
    "whole": f"invalid key {KEY}",
    "spaced": "invalid key " + _spaced(KEY, 4, " "),
    "line-broken": "invalid key " + _spaced(KEY, 16, "\n  "),
    "tabbed": "invalid key " + _spaced(KEY, 5, "\t"),
    "at-the-cut": "x" * 190 + KEY + "y" * 300,
    "half": "seen " + KEY[: len(KEY) // 2],
    "bytes-repr": f"Invalid header value b'{KEY}\\r\\n'",
    "escapes": f"\x1b[2J\x1b]0;{KEY}\x07 \u202eevil",
}


@pytest.fixture
def hostile():
    routers: list[HostileRouter] = []

    def start(reply) -> HostileRouter:
        routers.append(HostileRouter(reply))
        return routers[-1]

    yield start
    for router in routers:
        router.close()


def _fragments(text: str, size: int = 8) -> list[str]:
    compact = "".join(text.split())
    return [KEY[i:i + size] for i in range(len(KEY) - size + 1) if KEY[i:i + size] in compact]


@pytest.mark.parametrize("echo", sorted(ECHOES))
@pytest.mark.parametrize("status", [400, 404, 500])
@pytest.mark.parametrize("as_json", [True, False])
def test_an_echoed_key_never_reaches_the_error(hostile, echo, status, as_json):
    body = json.dumps({"code": status, "status": "bad", "message": ECHOES[echo]}) if as_json else ECHOES[echo]
    router = hostile(lambda _req: _http(status, body))
    driver = make_driver(router.url, key=KEY, retries=0)
    with pytest.raises(RouterError) as err:
        driver.upsert(HOST_OVERRIDE, {"host": "a", "domain": "example.org", "ip": ["10.0.0.1"],
                                      "descr": "k3s-platform: x", "aliases": []})
    text = str(err.value)
    assert not _fragments(text), text
    assert "\x1b" not in text and "\u202e" not in text and "\n" not in text
    assert len(text) < 1200  # long answers are cut (after redaction)


@pytest.mark.parametrize("echo", sorted(ECHOES))
def test_an_echoed_key_in_a_redirect_never_reaches_the_error(hostile, echo):
    location = "".join(ch for ch in ECHOES[echo] if ch not in "\r\n")
    router = hostile(lambda _req: _http(302, "", f"Location: https://evil.example/{location}\r\n"))
    with pytest.raises(RouterError) as err:
        make_driver(router.url, key=KEY, retries=0).list(FIREWALL_RULE)
    assert not _fragments(str(err.value)), str(err.value)


@pytest.mark.parametrize("bad_key", [KEY + "\n", KEY + "\r\n", "\n" + KEY, KEY[:10] + "\r" + KEY[10:],
                                     KEY + " ", KEY[:8] + "\x00" + KEY[8:], KEY + "\u2028", KEY + "é",
                                     KEY + "\t"])
def test_a_key_with_control_characters_is_refused_before_anything_is_sent(hostile, bad_key):
    router = hostile(lambda _req: _http(200, json.dumps({"data": []})))
    with pytest.raises(RouterError) as err:
        make_driver(router.url, key=bad_key, retries=3).list(FIREWALL_RULE)
    text = str(err.value)
    assert not _fragments(text) and "pulumi config set --secret pfsenseApiKey" in text
    assert router.requests == []


def test_a_request_that_cannot_be_built_is_not_sent_not_retried_not_unknown(hostile, monkeypatch):
    """A header http.client refuses (here: a bad Accept value slipped in) fails locally."""
    router = hostile(lambda _req: _http(200, json.dumps({"data": []})))
    driver = make_driver(router.url, key=KEY, retries=3)
    import http.client

    real = http.client.HTTPConnection.putheader

    def refusing(self, header, *values):
        if header == "X-API-Key":
            raise ValueError(f"Invalid header value {values[0].encode()!r}")
        return real(self, header, *values)

    monkeypatch.setattr(http.client.HTTPConnection, "putheader", refusing)
    with pytest.raises(RouterError) as err:
        driver.upsert(HOST_OVERRIDE, {"host": "a", "domain": "example.org", "ip": ["10.0.0.1"],
                                      "descr": "k3s-platform: x", "aliases": []})
    assert not isinstance(err.value, RouterOutcomeUnknown)
    assert "nothing was sent" in str(err.value) and not _fragments(str(err.value))
    # At most the one connection, which carried no bytes (the server thread may not have
    # recorded it yet): nothing sent, nothing retried.
    assert len(router.requests) <= 1 and all(r == b"" for r in router.requests)


@pytest.mark.parametrize("text", [KEY, KEY.upper()[:0] + KEY, " ".join(KEY), KEY[5:30], "a" + KEY[-9:]])
def test_outside_text_hides_every_long_fragment(text):
    assert not _fragments(outside_text(f"before {text} after", KEY))
    assert outside_text("nothing secret here", KEY) == "nothing secret here"
