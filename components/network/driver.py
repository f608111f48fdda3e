"""The router driver the dynamic resources call: pfSense over the pfrest REST API v2
(standard-library HTTP only). `RouterDriver` below is all resources.py may call, so another
router (OPNsense) needs only a class that satisfies it (mypy checks `PfRestDriver` does).

Creates nothing by itself; at deploy time it reads, writes and applies pfSense objects.

- Auth: `X-API-Key` header (pfrest "KeyAuth").
  # Ref: https://pfrest.org/AUTHENTICATION_AND_AUTHORIZATION/
- Responses are an envelope {"code", "status", "response_id", "message", "data"}.
- Objects are found by natural key (kinds.natural_key) in the plural listing (GET returns
  every object: pfrest's `limit` defaults to 0 = no limit; child kinds are filtered with the
  `parent_id` query parameter), and the array `id` is used only inside the same locked step:
  pfSense renumbers ids after a delete. Singular DELETE takes `id` (and `parent_id`) as
  query parameters; POST/PATCH take a JSON body.
- Writes to one router are serialized by a process-wide lock (pfSense writes config.xml as a
  whole; parallel writes race).
- TLS is verified by default (optionally against a CA bundle); redirects are never followed
  (the key would go along); each request has one deadline for all of it and a largest answer.
- Only our objects are changed: one found by its natural key must carry our tag
  (kinds.Kind.owner), or it is a RouterConflict, never adopted or deleted (DHCP static
  mappings excepted, docs/router.md §4). Every write and delete is verified against a fresh
  listing: an answer alone is not proof.
- Retries are bounded and never blind: reads and applies are re-sent; a create, update or
  delete whose outcome is unknown is re-decided from a fresh lookup by natural key.
- Transport and shape faults (bad status line, truncated body, TLS failure, listing items
  that are not objects, no `id`, an apply status that is not a boolean) are RouterErrors
  naming the endpoint.
- Errors name the router URL and never contain the API key or a payload.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from components.grammar import Grammar

from .kinds import (
    APPLY_PATHS,
    HAPROXY_FRONTEND,
    INTERFACE,
    REFID_PREFIX,
    SERVICE_SETTINGS,
    TAG,
    VLAN,
    Kind,
    backend_marked,
    get_kind,
    natural_key,
    owned_interface,
    tagged,
)

_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def _router_lock(api_url: str) -> threading.RLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(api_url, threading.RLock())


# What an API key may hold: printable ASCII without spaces (pfrest keys are hex).
_KEY_CHARS = re.compile(r"[!-~]+", re.ASCII)
_SHOWN = 300  # characters of outside text an error shows at most
_MIN_FRAGMENT = 8  # characters of the key that are never shown together


def outside_text(text: str, secret: str = "", limit: int = _SHOWN) -> str:
    """`text` (from the router or an exception) as an error may show it: on one line, control
    and escape characters (ESC, bidi overrides) blanked, no run of `_MIN_FRAGMENT` or more consecutive
    characters of `secret` even with whitespace inserted or the text cut, then at most `limit`
    characters. Redaction comes first: cutting first could leave the start of the key."""
    text = "".join(c if c.isprintable() else " " for c in text)
    if secret:
        text = _without_fragments(text, secret)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more characters)"


def _without_fragments(text: str, secret: str) -> str:
    """Every stretch of `text` that spells `_MIN_FRAGMENT`+ consecutive characters of
    `secret` (whitespace between them ignored) replaced by [redacted]."""
    size = min(_MIN_FRAGMENT, len(secret))
    grams = {secret[i:i + size] for i in range(len(secret) - size + 1)}
    kept = [i for i, c in enumerate(text) if not c.isspace()]  # positions of the non-blank characters
    compact = "".join(text[i] for i in kept)
    hidden = [False] * len(compact)
    for start in range(len(compact) - size + 1):
        if compact[start:start + size] in grams:
            for j in range(start, start + size):
                hidden[j] = True
    if not any(hidden):
        return text
    out, j, i = [], 0, 0
    while i < len(text):
        if j < len(kept) and kept[j] == i and hidden[j]:
            while j < len(kept) and hidden[j]:  # the whole run, with the blanks inside it
                j += 1
            out.append("[redacted]")
            i = kept[j - 1] + 1
            continue
        if j < len(kept) and kept[j] == i:
            j += 1
        out.append(text[i])
        i += 1
    return "".join(out)


class RouterError(Exception):
    """A router call failed; the message names the router and says what to check."""


class RouterAuthError(RouterError):
    """The router rejected the API key (401/403): never retried."""


class RouterHttpError(RouterError):
    """pfrest answered with an HTTP 4xx; `message` is pfrest's own explanation."""

    def __init__(self, api_url: str, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"router {api_url}: {method} {path} -> HTTP {status}: {message}")
        self.status = status
        self.message = message


class RouterConflict(RouterError):
    """An object with our natural key exists on the router but was not made by this program
    (it lacks our tag): it is never changed, adopted or deleted."""


class RouterOutcomeUnknown(RouterError):
    """The request was sent but no complete answer came back (timeout, HTTP 5xx, dropped
    connection, bad status line, truncated body): it may or may not have been carried out.
    Never re-sent blindly unless idempotent; writers re-read the router by natural key."""

    def __init__(self, api_url: str, where: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"router {api_url}: {where}: {reason} — it may or may not have been carried out")
        self.reason = reason
        self.status = status


class _NotSent(RouterError):
    """Nothing reached the router (refused, unresolvable, TLS handshake): safe to retry."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Watchdog:
    """Bounds a whole request: at the deadline, shuts the socket down under the reader."""

    def __init__(self, conn: http.client.HTTPConnection, seconds: float) -> None:
        self.fired = False
        self._conn = conn
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        sock = self._conn.sock
        if sock is not None:
            try:  # the plain socket's shutdown: SSLSocket.shutdown would drop its state mid-read
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        self._timer.cancel()


def _transport_reason(err: BaseException) -> str:
    if isinstance(err, http.client.IncompleteRead):
        return f"truncated answer ({len(err.partial)} bytes, {err.expected} more expected)"
    if isinstance(err, http.client.RemoteDisconnected):  # a BadStatusLine too: test it first
        return "connection closed without an answer"
    if isinstance(err, http.client.BadStatusLine):
        return "not an HTTP answer (bad status line)"
    if isinstance(err, TimeoutError):
        return "timed out"
    if isinstance(err, ssl.SSLError):
        return f"TLS failure ({err.reason or err})"
    return f"{err.__class__.__name__}: {err}"


# What pfSense names an assigned interface (get_next_id(): `wan`, `lan`, then `optN`).
_INTERFACE_ID = Grammar(r"wan|lan|opt[1-9][0-9]{0,3}")


def _usable_id(kind: Kind, ident: object) -> bool:
    """An id that addresses exactly one object of `kind`: an interface id for the kinds
    pfSense keys by interface, an array index for the others."""
    return bool(_INTERFACE_ID.match(ident)) if kind.interface_id else _is_array_index(ident)


def _is_array_index(ident: object) -> bool:
    """pfSense ids are positions in config.xml arrays: 0, 1, ... (as an int or its digits).
    Anything else (-1, "", "1; x", 1.5, True) would address no object, or the wrong one."""
    if isinstance(ident, bool):
        return False
    if isinstance(ident, int):
        return ident >= 0
    return isinstance(ident, str) and ident.isascii() and ident.isdigit()


class RouterDriver(Protocol):
    """What the dynamic resources (resources.py) call on a router, by `Kind` and payload."""

    api_url: str

    def find(self, kind: Kind, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        """The live object with the payload's natural key, or None."""
        ...

    def find_owned(self, kind: Kind, payload: Mapping[str, Any], doing: str) -> dict[str, Any] | None:
        """find(), refusing (RouterConflict) an object with our key that we did not make."""
        ...

    def upsert(self, kind: Kind, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Create or update our object; returns it as listed after the write."""
        ...

    def delete(self, kind: Kind, payload: Mapping[str, Any]) -> bool:
        """Delete our object; False when it was already gone."""
        ...

    def apply(self, subsystem: str, expected: Sequence[tuple[str, Mapping[str, Any]]] = ()) -> None:
        """Apply the subsystem's pending changes once every expected object is present."""
        ...

    def is_applied(self, subsystem: str) -> bool:
        """Whether the subsystem has no pending changes (and its settings have not drifted)."""
        ...


class PfRestDriver:
    """pfSense + pfrest v2. Defaults: verify TLS, 15 s per request in all, 3 retries of what is safe to
    retry, 16 MiB largest answer, 120 s apply wait."""

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        verify_tls: bool = True,
        ca_bundle: str | None = None,
        timeout: float = 15.0,
        retries: int = 3,
        backoff: float = 0.5,
        apply_timeout: float = 120.0,
        poll_interval: float = 1.0,
        max_body: int = 16 * 1024 * 1024,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise RouterError(f"router {api_url}: no API key given — set the secret k3s-platform:pfsenseApiKey")
        if not _KEY_CHARS.fullmatch(api_key):
            # Refused before any request: in a header, a line break or other control character
            # fails deep in http.client with the header (and so the key) in the error text.
            raise RouterError(
                f"router {api_url}: the API key holds a space, line break, control or non-ASCII character — "
                "set it again without it: pulumi config set --secret pfsenseApiKey (a trailing newline from "
                "a file is the usual cause)")
        self.api_url = api_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff
        self._apply_timeout = apply_timeout
        self._poll_interval = poll_interval
        self._max_body = max_body
        self._sleep = sleep
        self._ssl = self._ssl_context(verify_tls, ca_bundle)

    def __repr__(self) -> str:  # never show the key
        return f"PfRestDriver({self.api_url!r})"

    @staticmethod
    def _ssl_context(verify: bool, ca_bundle: str | None) -> ssl.SSLContext:
        if not verify:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        if ca_bundle:
            return ssl.create_default_context(cadata=ca_bundle)
        return ssl.create_default_context()

    # -- HTTP ---------------------------------------------------------------------------
    #
    # http.client, not urllib: urllib follows redirects and would carry the X-API-Key header
    # to whatever origin a Location names (even https -> http). Here any 3xx is an error.
    # A watchdog bounds the whole request (connect, send, status line, headers, body): a
    # socket timeout alone bounds each read, so a body trickling one byte a second, or an
    # endless chunked body, would never time out.

    def _redact(self, text: str) -> str:
        """Text from outside (the router's words, exception text) made safe to show."""
        return outside_text(text, self._api_key)

    def _shown(self, text: str) -> str:
        """A value the router gave (an id, a key built from its answer) inside a longer message:
        redacted, on one line, without escapes, and short."""
        return outside_text(text, self._api_key, limit=80)

    def _connection(self) -> http.client.HTTPConnection:
        parts = urllib.parse.urlsplit(self.api_url)
        if not parts.hostname:
            raise RouterError(f"router {self.api_url}: no host in the URL — write https://<router>[:port]")
        if parts.scheme == "https":
            return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=self._timeout, context=self._ssl)
        if parts.scheme == "http":
            return http.client.HTTPConnection(parts.hostname, parts.port, timeout=self._timeout)
        raise RouterError(f"router {self.api_url}: unsupported URL scheme {parts.scheme!r} — use https://")

    def _once(self, method: str, path: str, query: Mapping[str, Any] | None, body: Any) -> Any:
        where = f"{method} {path}"
        target = urllib.parse.urlsplit(self.api_url).path.rstrip("/") + path
        if query:
            target += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"X-API-Key": self._api_key, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
            headers["Content-Length"] = str(len(data))  # putheader: set by hand (request() would)
        conn = self._connection()
        watchdog = _Watchdog(conn, self._timeout)
        try:
            try:
                conn.connect()
            except ssl.SSLCertVerificationError as err:
                raise RouterError(
                    f"router {self.api_url}: {where}: TLS verification failed ({err.verify_message}) — give the "
                    "router's CA as router.caBundle"
                ) from None
            except ssl.SSLError as err:
                raise _NotSent(self._redact(f"TLS handshake failed ({err.reason or err})")) from None
            except OSError as err:
                reason = "no connection within the timeout" if watchdog.fired else f"unreachable ({err})"
                raise _NotSent(self._redact(reason)) from None
            try:
                conn.putrequest(method, target)
                for name, value in headers.items():
                    conn.putheader(name, value)
            except (http.client.HTTPException, ValueError) as err:
                # Built locally and refused locally: nothing was sent, and sending it again
                # would fail the same way.
                raise RouterError(f"router {self.api_url}: {where}: the request could not be built "
                                  f"({self._redact(_transport_reason(err))}) — nothing was sent") from None
            try:
                conn.endheaders(data)
                resp = conn.getresponse()
                raw = self._read_body(resp, where)
            except (http.client.HTTPException, OSError, ValueError) as err:
                if watchdog.fired:
                    reason = f"no complete answer within {self._timeout:g}s"
                else:
                    reason = _transport_reason(err)
                raise RouterOutcomeUnknown(self.api_url, where, self._redact(reason)) from None
        finally:
            watchdog.cancel()
            conn.close()
        return self._envelope_data(resp, raw, where)

    def _read_body(self, resp: http.client.HTTPResponse, where: str) -> bytes:
        length = resp.getheader("Content-Length")
        if length and length.strip().isdigit() and int(length) > self._max_body:
            raise RouterError(self._too_large(where))
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = resp.read1(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > self._max_body:
                raise RouterError(self._too_large(where))
            chunks.append(chunk)
        if resp.length:  # the connection closed before Content-Length bytes came
            raise http.client.IncompleteRead(b"".join(chunks), resp.length)
        return b"".join(chunks)

    def _too_large(self, where: str) -> str:
        return (f"router {self.api_url}: {where}: answer larger than {self._max_body} bytes — not a pfrest answer; "
                "check router.apiUrl")

    def _envelope_data(self, resp: http.client.HTTPResponse, raw: bytes, where: str) -> Any:
        status = resp.status
        if 300 <= status < 400:
            location = self._redact(resp.getheader("Location") or "(no Location)")
            raise RouterError(
                f"router {self.api_url}: {where} was redirected (HTTP {status}) to {location} — not followed, "
                "the API key is never sent along a redirect; set router.apiUrl to the address the API answers on"
            )
        try:
            envelope = json.loads(raw) if raw else {}
        except (ValueError, RecursionError):  # not JSON, or nested past what the parser takes
            envelope = None
        if status >= 400:
            message = envelope.get("message", "") if isinstance(envelope, dict) else raw.decode(errors="replace")
            message = self._redact(str(message))  # redacted whole, then cut
            if status >= 500:
                raise RouterOutcomeUnknown(self.api_url, where, f"HTTP {status} {message}".strip(), status=status)
            method, _, path = where.partition(" ")
            raise RouterHttpError(self.api_url, method, path, status, message)
        if envelope is None:
            raise RouterError(
                f"router {self.api_url}: {where} returned non-JSON — is the REST API package installed?"
            )
        if not isinstance(envelope, dict):
            raise RouterError(
                f"router {self.api_url}: {where} returned JSON that is not a pfrest envelope — is router.apiUrl "
                "the pfSense REST API?"
            )
        return envelope.get("data")

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        *,
        idempotent: bool | None = None,
    ) -> Any:
        """One API call. Failures before anything was sent are retried for every method;
        timeouts, 5xx and broken answers only for idempotent calls (GET, or `idempotent=True`
        for applies). A write whose outcome is unknown raises RouterOutcomeUnknown at once:
        the caller re-reads the router by natural key and decides (upsert, delete)."""
        if idempotent is None:
            idempotent = method in ("GET", "HEAD")
        last = ""
        for attempt in range(self._retries + 1):
            if attempt:
                self._sleep(self._backoff * (2 ** (attempt - 1)))
            try:
                return self._once(method, path, query, body)
            except RouterHttpError as err:
                if err.status == 429 and attempt < self._retries:
                    # Too many requests: pfrest refused it unprocessed, so any method may be
                    # sent again, after the backoff.
                    last = f"HTTP 429 {err.message}".strip()
                    continue
                if err.status in (401, 403):
                    raise RouterAuthError(
                        f"router {self.api_url} rejected the API key (HTTP {err.status}) — check the secret "
                        "k3s-platform:pfsenseApiKey and that the key's user has the REST API privileges "
                        "(see docs/router.md)"
                    ) from None
                raise
            except _NotSent as err:
                last = err.reason
            except RouterOutcomeUnknown as err:
                if not idempotent:
                    raise
                last = err.reason
        raise RouterError(
            f"router {self.api_url}: {method} {path} failed after {self._retries + 1} attempts: {last} — check "
            "router.apiUrl, the network path and that the REST API package is installed"
        )

    # -- objects ------------------------------------------------------------------------

    def list(self, kind: Kind, parent_id: str | None = None) -> list[dict[str, Any]]:
        query = {"parent_id": parent_id} if kind.parent_id and parent_id else None
        data = self.request("GET", kind.plural, query=query)
        if not isinstance(data, list):
            raise RouterError(f"router {self.api_url}: GET {kind.plural} did not return a list — is the REST API "
                              "package current (docs/router.md §3)?")
        for i, obj in enumerate(data):
            if not isinstance(obj, dict):
                raise RouterError(
                    f"router {self.api_url}: GET {kind.plural}: item {i} is {type(obj).__name__}, not an object — "
                    "is the REST API package current (docs/router.md §3)?"
                )
        return data

    def find(self, kind: Kind, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        """The live object with the payload's natural key, or None. Matching is by key
        fields only; the returned `id` is valid until the next delete."""
        parent = payload.get("parent_id") if kind.parent_id else None
        want = natural_key(kind, payload)
        matches = []
        for obj in self.list(kind, parent):
            candidate = dict(obj)
            if parent is not None:
                # pfrest returns `parent_id` on child objects; should a router ignore the
                # `parent_id` query filter, never adopt a twin under another interface.
                if candidate.get("parent_id") not in (None, parent):
                    continue
                candidate["parent_id"] = parent
            try:
                if natural_key(kind, candidate) == want:
                    matches.append(obj)
            except ValueError:
                continue  # foreign object without our key fields
        if len(matches) > 1:
            raise RouterError(
                f"router {self.api_url}: {len(matches)} {kind.name} objects share the key {want} — remove the "
                "duplicates by hand, the driver will not guess which one it owns"
            )
        if matches:
            ident = matches[0].get("id")
            if not _usable_id(kind, ident):
                raise RouterError(
                    f"router {self.api_url}: GET {kind.plural}: {want} has no usable `id` ({self._shown(repr(ident))}) — is the "
                    "REST API package current (docs/router.md §3)?"
                )
        return matches[0] if matches else None

    def owned(self, kind: Kind, live: Mapping[str, Any]) -> bool:
        """Whether a live object was made by this program (`Kind.owner` says how it shows it)."""
        if kind.owner == "adopt":
            return True
        if kind.owner == "vlan_device":
            return owned_interface(live, self.list(VLAN))
        if kind.owner == "interface":
            ident = live.get("id")
            iface = next((i for i in self.list(INTERFACE) if i.get("id") == ident), None)
            return iface is not None and owned_interface(iface, self.list(VLAN))
        if kind.owner == "backend":
            return backend_marked(live.get("advanced_backend")) or any(
                tagged(f.get("descr")) and f.get("backend_serverpool") == live.get("name")
                for f in self.list(HAPROXY_FRONTEND))
        return tagged(live.get(kind.owner))

    def _not_ours(self, kind: Kind) -> str:
        return {
            "vlan_device": f"the device it assigns is no VLAN whose description starts with {TAG!r}",
            "interface": "its interface is no VLAN network of this program",
            "backend": f"its backend pass-thru does not start with {TAG!r} and none of our frontends uses it",
        }.get(kind.owner, f"its {kind.owner} does not start with {TAG!r}")

    def find_owned(self, kind: Kind, payload: Mapping[str, Any], doing: str) -> dict[str, Any] | None:
        """find(), and a RouterConflict when the object with our key is not ours: the driver
        edits and deletes only what it made (DHCP static mappings excepted: adopted)."""
        live = self.find(kind, payload)
        if live is not None and not self.owned(kind, live):
            raise RouterConflict(
                f"router {self.api_url}: not {doing} {kind.name} {natural_key(kind, payload)}: an object with that "
                f"key exists on the router but was not made by this program ({self._not_ours(kind)}) — the "
                "program changes and deletes only its own objects: rename or remove the hand-made one in the "
                "pfSense GUI (or change the config so the keys differ), then run pulumi up again")
        return live

    def _verify_written(self, kind: Kind, payload: Mapping[str, Any], key: str, answer: Any) -> dict[str, Any]:
        """A write answered 200 is proof of nothing by itself: an answer naming another key is
        an error, and the object must then be listed under our key, as ours. Returns the live
        object (its `id` checked by find)."""
        if isinstance(answer, Mapping):
            seen = dict(answer)
            if kind.parent_id:
                seen.setdefault("parent_id", payload.get("parent_id"))
            try:
                other = natural_key(kind, seen)
            except ValueError:
                other = key  # an answer without the key fields: the listing decides
            if other != key:
                raise RouterError(
                    f"router {self.api_url}: writing {key} was answered with another object ({self._shown(other)}) — check "
                    "the router (Diagnostics > Backup & Restore > Config History) before running pulumi up again")
        live = self.find(kind, payload)
        if live is None:
            raise RouterError(
                f"router {self.api_url}: writing {kind.name} {key} was answered as done, but the router does not "
                "list it — is the REST API package current (docs/router.md §3)? Run pulumi up again")
        if not self.owned(kind, live):
            raise RouterError(
                f"router {self.api_url}: {kind.name} {key} was written, but the router lists it without our tag "
                f"({self._not_ours(kind)}) — is the REST API package current (docs/router.md §3)?")
        return live

    def resolve_refs(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Replace "$refid:<kind>:<descr>" values with the live object's pfSense refid."""
        out = dict(payload)
        for field, value in payload.items():
            if isinstance(value, str) and value.startswith(REFID_PREFIX):
                kind_name, _, descr = value[len(REFID_PREFIX) :].partition(":")
                ref_kind = get_kind(kind_name)
                obj = self.find(ref_kind, {"descr": descr})
                if obj is None or not obj.get("refid"):
                    raise RouterError(
                        f"router {self.api_url}: {field} refers to {kind_name} {descr!r}, which does not exist "
                        "— it must be created first (depends_on)"
                    )
                out[field] = obj["refid"]
        return out

    def _gave_up(self, doing: str, key: str, err: RouterOutcomeUnknown | None) -> RouterError:
        why = f"last: {err.reason}" if err else "its id kept moving: is someone else editing the router?"
        return RouterError(
            f"router {self.api_url}: {doing} {key}: no certain outcome after {self._retries + 1} attempts "
            f"({why}) — re-run `pulumi up`: the object is looked up by its key, so nothing is duplicated or lost"
        )

    def upsert(self, kind: Kind, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Create the object, or update it in place if our object with its natural key
        already exists; a hand-made object with that key is a RouterConflict (DHCP static
        mappings excepted: adopted, docs/router.md §4). Returns the live object as listed
        after the write (verified: there, under our key, ours).

        A write whose outcome is unknown (timeout, 5xx) is never re-sent blindly: each
        attempt first looks the key up again. A create that did commit is then found (and
        not created twice); an update goes to the id the key has now."""
        key = natural_key(kind, payload)
        with _router_lock(self.api_url):
            body = self.resolve_refs(payload)
            create_unknown = False
            last: RouterOutcomeUnknown | None = None
            for attempt in range(self._retries + 1):
                if attempt:
                    self._sleep(self._backoff * (2 ** (attempt - 1)))
                existing = self.find_owned(kind, payload, "writing")
                if existing is not None and create_unknown:
                    return existing  # our earlier POST did commit
                try:
                    if existing is None:
                        answer = self.request("POST", kind.path, body=body)
                    else:
                        update = {k: v for k, v in body.items() if k not in kind.immutable}  # `editable: false`
                        update["id"] = existing["id"]
                        answer = self.request("PATCH", kind.path, body=update)
                except RouterOutcomeUnknown as err:
                    create_unknown = create_unknown or existing is None
                    last = err
                except RouterHttpError as err:
                    if err.status == 404 and existing is not None:
                        continue  # the id moved under us (someone deleted a row): resolve it again
                    raise RouterError(
                        f"router {self.api_url}: {kind.name} {key} was refused (HTTP {err.status}: {err.message})"
                    ) from None
                else:
                    return self._verify_written(kind, payload, key, answer)
            raise self._gave_up("writing", key, last)

    def delete(self, kind: Kind, payload: Mapping[str, Any]) -> bool:
        """Delete our object with this natural key. An object already gone is fine (False); a
        hand-made one with that key is a RouterConflict, left alone (DHCP static mappings
        excepted, docs/router.md §4).

        pfSense deletes by array position and renumbers afterwards, so a DELETE is never
        re-sent as it was: each attempt resolves the id from the key again (gone: done), and
        the object pfSense reports as deleted must carry our key."""
        key = natural_key(kind, payload)
        with _router_lock(self.api_url):
            sent_unknown = False
            last: RouterOutcomeUnknown | None = None
            for attempt in range(self._retries + 1):
                if attempt:
                    self._sleep(self._backoff * (2 ** (attempt - 1)))
                existing = self.find_owned(kind, payload, "deleting")
                if existing is None:
                    return sent_unknown  # gone: our unanswered DELETE did it, or it never existed
                query: dict[str, Any] = {"id": existing["id"]}
                if kind.parent_id:
                    query["parent_id"] = payload["parent_id"]
                try:
                    deleted = self.request("DELETE", kind.path, query=query)
                except RouterOutcomeUnknown as err:
                    sent_unknown, last = True, err
                    continue
                except RouterHttpError as err:
                    if err.status == 404:  # the id moved under us: resolve it again
                        continue
                    raise RouterError(
                        f"router {self.api_url}: deleting {kind.name} {key} was refused "
                        f"(HTTP {err.status}: {err.message})"
                    ) from None
                self._check_deleted(kind, payload, key, deleted)
                # Every delete is verified: a 200 (with or without the key fields in its
                # answer) is not proof; the key must be gone from a fresh listing.
                if self.find(kind, payload) is not None:
                    raise RouterError(
                        f"router {self.api_url}: deleting {kind.name} {key} was answered as done, but the "
                        "router still lists it — delete it by hand in the pfSense GUI, then run pulumi up again")
                return True
            raise self._gave_up("deleting", key, last)

    def _check_deleted(self, kind: Kind, payload: Mapping[str, Any], key: str, deleted: Any) -> None:
        """No false ok: if pfSense says it deleted an object with another key (the ids moved
        between our lookup and the DELETE), say so loudly."""
        if not isinstance(deleted, dict):
            return
        seen = dict(deleted)
        if kind.parent_id:
            seen.setdefault("parent_id", payload.get("parent_id"))
        try:
            other = natural_key(kind, seen)
        except ValueError:
            return  # pfrest answered without the key fields: nothing to compare
        if other != key:
            raise RouterError(
                f"router {self.api_url}: asked to delete {key} but the router deleted {self._shown(other)} (its ids moved "
                "between lookup and delete) — restore it from Diagnostics > Backup & Restore > Config History"
            )

    # -- apply --------------------------------------------------------------------------

    def settings_drift(self, subsystem: str) -> dict[str, Any]:
        """The subsystem's required service settings that the router does not have (name -> wanted)."""
        if subsystem not in SERVICE_SETTINGS:
            return {}
        path, wanted = SERVICE_SETTINGS[subsystem]
        live = self.request("GET", path) or {}
        if not isinstance(live, Mapping):
            raise RouterError(f"router {self.api_url}: GET {path} returned {type(live).__name__}, not an object")
        return {k: v for k, v in wanted.items() if live.get(k) != v}

    def ensure_settings(self, subsystem: str) -> None:
        """Turn on what the subsystem needs (e.g. HAProxy `enable`); PATCH only what differs."""
        drift = self.settings_drift(subsystem)
        if drift:
            self.request("PATCH", SERVICE_SETTINGS[subsystem][0], body=drift)

    def is_applied(self, subsystem: str) -> bool:
        if self.settings_drift(subsystem):
            return False  # e.g. HAProxy switched off by hand: the next `up` turns it on again
        path = APPLY_PATHS[subsystem]
        if path is None:
            return True
        data = self.request("GET", path)
        applied = data.get("applied") if isinstance(data, dict) else None
        if not isinstance(applied, bool):
            raise RouterError(
                f"router {self.api_url}: GET {path}: `applied` is {applied!r}, not true/false — is the REST API "
                "package current (docs/router.md §3)?"
            )
        return applied

    def apply(self, subsystem: str, expected: Sequence[tuple[str, Mapping[str, Any]]] = ()) -> None:
        """Check every expected object is present, apply the subsystem's pending changes, and
        poll until pfSense reports `applied` (pfrest applies in a background process)."""
        if subsystem not in APPLY_PATHS:
            raise RouterError(f"unknown subsystem {subsystem!r} — use one of {sorted(APPLY_PATHS)}")
        with _router_lock(self.api_url):
            missing = [
                natural_key(get_kind(k), p) for k, p in expected
                if self.find_owned(get_kind(k), p, f"applying {subsystem} with") is None
            ]
            if missing:
                raise RouterError(
                    f"router {self.api_url}: not applying {subsystem}: objects missing on the router: "
                    f"{', '.join(missing)}"
                )
            self.ensure_settings(subsystem)
            path = APPLY_PATHS[subsystem]
            if path is None:
                return
            try:
                self.request("POST", path, body={}, idempotent=True)  # applying twice is harmless
            except RouterHttpError as err:
                raise RouterError(
                    f"router {self.api_url}: applying {subsystem} was refused (HTTP {err.status}: {err.message})"
                ) from None
        deadline = time.monotonic() + self._apply_timeout
        while not self.is_applied(subsystem):
            if time.monotonic() >= deadline:
                raise RouterError(
                    f"router {self.api_url}: {subsystem} changes still pending after {self._apply_timeout:.0f}s "
                    "— check the pfSense system log; re-run `pulumi up` to apply again"
                )
            self._sleep(self._poll_interval)
