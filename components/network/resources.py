"""Pulumi dynamic resources for pfSense: one `PfSenseObject` per pfSense object and one
`PfSenseApply` per subsystem.

At deploy time the pickled providers below call the router through `PfRestDriver`; under
mocks they never run, and the plan shows their inputs: `kind`, `naturalKey` and the exact
`payload` that would be sent. The API key is an input (the provider needs it at deploy
time) and is kept secret in inputs, outputs and state.

- PfSenseObject: id = natural key. create/update = upsert by natural key; delete tolerates
  an object already gone and applies its subsystem at once (no apply resource runs after a
  delete); diff compares normalized desired payloads; a new natural key, or an `apiUrl` naming
  another router host, replaces (a new port or scheme for the same host updates).
- PfSenseApply: depends on every object of its subsystem (set by the Router); re-applies
  when the hash of those objects' payloads changes; polls until pfSense reports applied.

`pulumi refresh` (provider `read`): an object gone from the router leaves the state (empty
id, the engine's "deleted" signal); one that drifted comes back with its live values in
`payload` (seen through the desired fields, kinds.project_live), so the next `pulumi up`
diffs desired against live and puts it back. An apply whose subsystem still has pending
changes comes back with `objectsHash` = "pending", so the next `up` applies again.

Contract (pulumi/dynamic/dynamic.py, SDK 3.272): create -> CreateResult(id_, outs),
update -> UpdateResult(outs), diff -> DiffResult(changes, replaces, delete_before_replace)
(the SDK forwards only those three to the engine; `stables` is not sent), read ->
ReadResult(id_, outs). Providers hold no state: they pickle (dill, by reference to this
importable module) without locks or sockets; the driver, its lock and its HTTPS context are
built per call. The engine runs this provider with acceptSecrets=false and re-marks outputs
whose inputs were secret; `additional_secret_outputs` makes that explicit for `apiKey` and
for payloads that carry private keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import pulumi
from pulumi.dynamic import (
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)
from pulumi.runtime.rpc import contains_unknowns

from .driver import PfRestDriver, RouterDriver, RouterError
from .kinds import SERVICE_SETTINGS, Kind, canonical_json, get_kind, project_live

# Connection inputs shared by every router resource (camelCase: they are resource properties).
PENDING = "pending"  # objectsHash after a refresh found the subsystem not applied
CONNECTION_KEYS = ("apiUrl", "verifyTls", "caBundle", "timeoutSeconds", "retries", "applyTimeoutSeconds", "apiKey")


def driver_from_props(props: Mapping[str, Any]) -> RouterDriver:
    """Build the driver from resource properties (inputs or stored outputs)."""
    return PfRestDriver(
        props["apiUrl"],
        props["apiKey"],
        verify_tls=bool(props.get("verifyTls", True)),
        ca_bundle=props.get("caBundle") or None,
        timeout=float(props.get("timeoutSeconds", 15.0)),
        retries=int(props.get("retries", 3)),
        apply_timeout=float(props.get("applyTimeoutSeconds", 120.0)),
    )


def _public(props: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k != "__provider"}


def router_host(api_url: Any) -> str:
    """Which router an API URL names: its host, lowercased. The scheme and port only say how
    the router is reached (moving pfSense's GUI from :443 to :8443 is the same router)."""
    text = str(api_url or "")
    try:
        host = urlsplit(text).hostname
    except ValueError:
        host = None
    return (host or text).lower()


def router_moved(old_url: Any, new_url: Any) -> bool:
    """True when two API URLs name different routers: their objects must be replaced."""
    return router_host(old_url) != router_host(new_url)


def _connection_changed(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    return any(olds.get(k) != news.get(k) for k in CONNECTION_KEYS)


def _replaces(olds: Mapping[str, Any], news: Mapping[str, Any], identity: tuple[str, ...]) -> list[str]:
    """The inputs whose change makes this a different object: `identity` keys, and `apiUrl`
    when it names another router (an update of the port or scheme is not a new object)."""
    keys = [k for k in identity if olds.get(k) != news.get(k)]
    return keys + (["apiUrl"] if router_moved(olds.get("apiUrl"), news.get("apiUrl")) else [])


def current_connection(props: Mapping[str, Any], config: Any) -> dict[str, Any]:
    """`props` (a stored state) with the connection the stack's config gives now.

    `read` and `delete` get only what the state stored, so after the router's API key was
    rotated, or its GUI moved to another port, a `refresh`, a delete or a `destroy` would call
    the router with the old key or URL until an `up` rewrote every object. The stack config is
    what the operator just changed: its `pfsenseApiKey` replaces the stored key, and its
    `router.apiUrl` the stored URL when both name the same router host (another host is
    another router: its objects are deleted where they were made)."""
    out = dict(props)
    if config is None:
        return out
    key = config.get("pfsenseApiKey")
    if isinstance(key, str) and key:
        out["apiKey"] = key
    router = config.get("router")
    if isinstance(router, str):
        try:
            router = json.loads(router)
        except ValueError:
            router = None
    url = router.get("apiUrl") if isinstance(router, dict) else None
    if isinstance(url, str) and url and not router_moved(props.get("apiUrl"), url):
        out["apiUrl"] = url.rstrip("/")
    return out


class _RouterProvider(ResourceProvider):
    """Keeps the stack config the engine configures the provider with (ConfigureRequest),
    for the connection of `read` and `delete` (current_connection)."""

    _config: Any = None

    def configure(self, req: ConfigureRequest) -> None:
        self._config = req.config

    def _current(self, props: Mapping[str, Any]) -> dict[str, Any]:
        return current_connection(props, self._config)


def wire_numbers(value: Any) -> Any:
    """`value` with whole floats as ints. The engine hands dynamic providers every number as a
    float (protobuf), and pfrest's IntegerFields (a VLAN tag, an interface's subnet) take
    integers: 24.0 is not 24 to them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: wire_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wire_numbers(v) for v in value]
    return value


def _with_assigned_id(kind: Kind, outs: dict[str, Any], written: Any, driver: RouterDriver,
                      payload: Mapping[str, Any]) -> dict[str, Any]:
    """For kinds pfSense names itself (an interface's `optN`): `assignedId` = the live id, from
    the write's answer or, when it carried none, from a lookup by natural key."""
    if kind.assigned_id:
        ident = written.get("id") if isinstance(written, Mapping) else None
        if not isinstance(ident, str) or not ident:
            live = driver.find(kind, payload)
            ident = live.get("id") if live else None
        if not isinstance(ident, str) or not ident:
            raise RouterError(f"router {driver.api_url}: {kind.name} {props_key(kind, payload)} has no interface id "
                              "after the write — is the REST API package current (docs/router.md §3)?")
        outs["assignedId"] = ident
    return outs


def props_key(kind: Kind, payload: Mapping[str, Any]) -> str:
    return ",".join(f"{f}={payload.get(f)}" for f in kind.key_fields)


class PfSenseObjectProvider(_RouterProvider):
    """CRUD for one pfSense object, addressed by its natural key."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        kind = get_kind(props["kind"])
        driver = driver_from_props(props)
        written = driver.upsert(kind, wire_numbers(props["payload"]))
        outs = _with_assigned_id(kind, _public(props), written, driver, props["payload"])
        return CreateResult(id_=props["naturalKey"], outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        if contains_unknowns(news):
            # A preview where an input comes from a resource that changes in the same run (an
            # interface's assigned id, a certificate's refid after the API key changed): what
            # it will be is not known yet. Say "may change" — an update in the preview — and let
            # the `up`, which diffs again once the value is known, decide on any replace.
            return DiffResult(changes=None, replaces=[], delete_before_replace=False)
        # A different kind, key or router is a different object: replace it.
        replaces = _replaces(olds, news, ("kind", "naturalKey"))
        payload_changed = canonical_json(olds.get("payload")) != canonical_json(news.get("payload"))
        changes = bool(replaces) or payload_changed or _connection_changed(olds, news)
        return DiffResult(changes=changes, replaces=replaces, delete_before_replace=bool(replaces))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        kind = get_kind(news["kind"])
        driver = driver_from_props(news)
        written = driver.upsert(kind, wire_numbers(news["payload"]))
        return UpdateResult(outs=_with_assigned_id(kind, _public(news), written, driver, news["payload"]))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        if "kind" not in props or "payload" not in props or "apiKey" not in props:
            raise RouterError(
                f"cannot read pfSense object {id_!r}: no stored kind/payload/connection — PfSenseObject "
                "cannot be imported with `get`; declare it and let `pulumi up` find it by natural key"
            )
        kind = get_kind(props["kind"])
        live = driver_from_props(self._current(props)).find_owned(kind, wire_numbers(props["payload"]), "reading")
        if live is None:
            return ReadResult(id_="", outs={})  # gone from the router: drop it from the state
        outs = _public(props)
        outs["payload"] = project_live(props["payload"], live)
        if kind.assigned_id:
            outs["assignedId"] = live.get("id")
        return ReadResult(id_=id_, outs=outs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        kind = get_kind(props["kind"])
        driver = driver_from_props(self._current(props))
        if driver.delete(kind, wire_numbers(props["payload"])) and kind.subsystem:
            driver.apply(kind.subsystem)


class PfSenseApplyProvider(_RouterProvider):
    """Applies one subsystem's pending changes and waits until they are live."""

    def _apply(self, props: Mapping[str, Any]) -> None:
        expected = [(o["kind"], wire_numbers(o["payload"])) for o in props.get("objects", [])]
        driver_from_props(props).apply(props["subsystem"], expected)

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._apply(props)
        return CreateResult(id_=f"apply:{props['subsystem']}", outs=_public(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        if contains_unknowns(news):  # as PfSenseObject.diff: known only in the `up`
            return DiffResult(changes=None, replaces=[], delete_before_replace=False)
        replaces = _replaces(olds, news, ("subsystem",))
        changes = (bool(replaces) or olds.get("objectsHash") != news.get("objectsHash")
                   or olds.get("settings") != news.get("settings") or _connection_changed(olds, news))
        return DiffResult(changes=changes, replaces=replaces)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._apply(news)
        return UpdateResult(outs=_public(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        outs = _public(props)
        if not driver_from_props(self._current(props)).is_applied(props["subsystem"]):
            outs["objectsHash"] = PENDING  # differs from any real hash: the next `up` applies
        return ReadResult(id_=id_, outs=outs)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # Nothing to undo: object deletes apply their own subsystem.
        return None


class PfSenseObject(Resource, module="network", name="PfSenseObject"):
    """One pfSense object. Inputs: connection (with secret apiKey), kind, naturalKey, payload."""

    def __init__(
        self,
        name: str,
        connection: Mapping[str, Any],
        kind: Kind,
        natural_key: pulumi.Input[str],
        payload: pulumi.Input[Mapping[str, Any]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        secret_outs = ["apiKey"] + (["payload"] if kind.secret else [])
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=secret_outs))
        props = {**connection, "kind": kind.name, "naturalKey": natural_key, "payload": payload}
        if kind.assigned_id:
            props["assignedId"] = None  # an output: the id pfSense gave the object
        super().__init__(PfSenseObjectProvider(), name, props, opts)


class PfSenseApply(Resource, module="network", name="PfSenseApply"):
    """Applies `subsystem` once all its objects exist; re-applies when `objectsHash` changes.
    `objects` lists each object's kind and key fields (no secrets), so the apply can verify
    they are all present before applying (never half-applied)."""

    def __init__(
        self,
        name: str,
        connection: Mapping[str, Any],
        subsystem: str,
        objects: pulumi.Input[list[Mapping[str, Any]]],
        objects_hash: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["apiKey"])
        )
        props = {**connection, "subsystem": subsystem, "objects": objects, "objectsHash": objects_hash}
        if subsystem in SERVICE_SETTINGS:  # shown in the plan; a change re-applies
            props["settings"] = SERVICE_SETTINGS[subsystem][1]
        super().__init__(PfSenseApplyProvider(), name, props, opts)
