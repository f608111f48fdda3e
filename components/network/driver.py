"""Router drivers: the small interface the dynamic resources call, and its pfSense
implementation over the pfrest REST API v2 (standard-library HTTP only).

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
- TLS is verified by default (optionally against a CA bundle); requests have a timeout;
  connection errors and 5xx are retried a bounded number of times with backoff.
- Errors name the router URL and never contain the API key or a payload.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .kinds import APPLY_PATHS, REFID_PREFIX, SERVICE_SETTINGS, Kind, get_kind, natural_key

_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def _router_lock(api_url: str) -> threading.RLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(api_url, threading.RLock())


class RouterError(Exception):
    """A router call failed; the message names the router and says what to check."""


class RouterAuthError(RouterError):
    """The router rejected the API key (401/403): never retried."""


class RouterDriver(Protocol):
    """What the dynamic resources need from a router (pfSense today, OPNsense later)."""

    def find(self, kind: Kind, payload: Mapping[str, Any]) -> dict[str, Any] | None: ...

    def upsert(self, kind: Kind, payload: Mapping[str, Any]) -> dict[str, Any]: ...

    def delete(self, kind: Kind, payload: Mapping[str, Any]) -> bool: ...

    def apply(self, subsystem: str, expected: list[tuple[str, Mapping[str, Any]]] = ...) -> None: ...


class RouterHttpError(RouterError):
    """pfrest answered with an HTTP error; `message` is pfrest's own explanation."""

    def __init__(self, api_url: str, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"router {api_url}: {method} {path} -> HTTP {status}: {message}")
        self.status = status
        self.message = message


class PfRestDriver:
    """pfSense + pfrest v2. Defaults: verify TLS, 15 s timeout, 3 retries, 120 s apply wait."""

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
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise RouterError(f"router {api_url}: no API key given — set the secret k3s-platform:pfsenseApiKey")
        self.api_url = api_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff
        self._apply_timeout = apply_timeout
        self._poll_interval = poll_interval
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

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]") if self._api_key else text

    def _once(self, method: str, path: str, query: Mapping[str, Any] | None, body: Any) -> Any:
        url = self.api_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("X-API-Key", self._api_key)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        handlers = [urllib.request.HTTPSHandler(context=self._ssl)]
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(req, timeout=self._timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            raw = err.read() or b""
            try:
                message = json.loads(raw).get("message", "")
            except (ValueError, AttributeError):
                message = raw[:200].decode(errors="replace")
            raise RouterHttpError(self.api_url, method, path, err.code, self._redact(str(message))) from None
        try:
            envelope = json.loads(raw) if raw else {}
        except ValueError:
            raise RouterError(
                f"router {self.api_url}: {method} {path} returned non-JSON — is the REST API package installed?"
            ) from None
        return envelope.get("data") if isinstance(envelope, dict) else envelope

    def request(self, method: str, path: str, query: Mapping[str, Any] | None = None, body: Any = None) -> Any:
        """One API call with bounded retries on connection errors and 5xx."""
        last = ""
        for attempt in range(self._retries + 1):
            if attempt:
                self._sleep(self._backoff * (2 ** (attempt - 1)))
            try:
                return self._once(method, path, query, body)
            except RouterHttpError as err:
                if err.status in (401, 403):
                    raise RouterAuthError(
                        f"router {self.api_url} rejected the API key (HTTP {err.status}) — check the secret "
                        "k3s-platform:pfsenseApiKey and that the key's user has the REST API privileges "
                        "(see docs/router.md)"
                    ) from None
                if err.status < 500:
                    raise
                last = f"HTTP {err.status} {err.message}".strip()
            except ssl.SSLCertVerificationError as err:
                raise RouterError(
                    f"router {self.api_url}: TLS verification failed ({err.verify_message}) — give the router's "
                    "CA as router.caBundle"
                ) from None
            except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
                reason = getattr(err, "reason", err)
                if isinstance(reason, ssl.SSLCertVerificationError):
                    raise RouterError(
                        f"router {self.api_url}: TLS verification failed ({reason.verify_message}) — give the "
                        "router's CA as router.caBundle"
                    ) from None
                last = f"unreachable ({reason})"
        raise RouterError(
            f"router {self.api_url}: {method} {path} failed after {self._retries + 1} attempts: {last} — check "
            "router.apiUrl, the network path and that the REST API package is installed"
        )

    # -- objects ------------------------------------------------------------------------

    def list(self, kind: Kind, parent_id: str | None = None) -> list[dict[str, Any]]:
        query = {"parent_id": parent_id} if kind.parent_id and parent_id else None
        data = self.request("GET", kind.plural, query=query)
        if not isinstance(data, list):
            raise RouterError(f"router {self.api_url}: GET {kind.plural} did not return a list")
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
        return matches[0] if matches else None

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

    def upsert(self, kind: Kind, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Create the object, or update it in place if its natural key already exists
        (adopts a hand-made twin instead of failing on a unique constraint)."""
        with _router_lock(self.api_url):
            body = self.resolve_refs(payload)
            existing = self.find(kind, payload)
            try:
                if existing is None:
                    return self.request("POST", kind.path, body=body) or {}
                for field in kind.immutable:  # `editable: false`: identical by key, never re-sent
                    body.pop(field, None)
                body["id"] = existing["id"]
                return self.request("PATCH", kind.path, body=body) or {}
            except RouterHttpError as err:
                raise RouterError(
                    f"router {self.api_url}: {kind.name} {natural_key(kind, payload)} was refused "
                    f"(HTTP {err.status}: {err.message})"
                ) from None

    def delete(self, kind: Kind, payload: Mapping[str, Any]) -> bool:
        """Delete the object with this natural key. An object already gone is fine (False)."""
        with _router_lock(self.api_url):
            existing = self.find(kind, payload)
            if existing is None:
                return False
            query: dict[str, Any] = {"id": existing["id"]}
            if kind.parent_id:
                query["parent_id"] = payload["parent_id"]
            try:
                self.request("DELETE", kind.path, query=query)
            except RouterHttpError as err:
                if err.status == 404:  # removed between find and delete
                    return False
                raise RouterError(
                    f"router {self.api_url}: deleting {kind.name} {natural_key(kind, payload)} was refused "
                    f"(HTTP {err.status}: {err.message})"
                ) from None
            return True

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
        data = self.request("GET", path) or {}
        return bool(data.get("applied"))

    def apply(self, subsystem: str, expected: list[tuple[str, Mapping[str, Any]]] = ()) -> None:
        """Check every expected object is present, apply the subsystem's pending changes, and
        poll until pfSense reports `applied` (pfrest applies in a background process)."""
        if subsystem not in APPLY_PATHS:
            raise RouterError(f"unknown subsystem {subsystem!r} — use one of {sorted(APPLY_PATHS)}")
        with _router_lock(self.api_url):
            missing = [
                natural_key(get_kind(k), p) for k, p in expected if self.find(get_kind(k), p) is None
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
                self.request("POST", path, body={})
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
