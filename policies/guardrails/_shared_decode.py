"""Decode each resource's properties once per request, for all the pack's policies.

pulumi-policy's analyzer (`pulumi_policy.policy._PolicyAnalyzerServicer`, pinned 1.21.0)
decodes a resource's properties for every policy it runs: `Analyze` turns the request's
protobuf Struct into a dict (`json_format.MessageToDict`), unwraps Pulumi's special values
(`deserialize_properties`) and wraps the result in unknown-checking proxies
(`unknown_checking_proxy`) once per resource policy; `AnalyzeStack` does the same for every
resource once per stack policy. With seven policies that decoding is most of the pack's
time.

`install()` keeps the server as it is and makes those three steps remember their result
for the duration of one `Analyze`/`AnalyzeStack` call (see `_request.scope`): the first
policy decodes, the others get the same read-only proxies (and the same resource options and
provider resource, which the servicer also rebuilds per policy). Policies, names, enforcement
levels, messages and the "can't run policy" handling of unknown values are untouched.
`Remediate` (which asks for secret-preserving proxies) is not memoised. During
`AnalyzeStack` the cyclic garbage collector is paused (see `_collector_paused`); between
the Analyze calls and AnalyzeStack what they decoded is frozen (see `_after_analyze`).

The same properties also reach the analyzer more than once across requests: the engine sends
each resource in its own `Analyze` and again in `AnalyzeStack`, and every resource carries
its provider's properties. `_Decoded` remembers, across requests, the decoded dict and the
proxies of a properties Struct keyed by its deterministic wire bytes (map keys sorted: equal
bytes, equal messages), for the last `DECODED_MAX` distinct Structs. Only the order of a
decoded map's keys can differ from a fresh decoding's: it is the first message's, and
protobuf's maps have no order to keep (the same Struct parsed twice, in an `Analyze` and in
`AnalyzeStack`, already iterates its maps in different orders). `AnalyzeStack` thus finds
the stack already decoded by the `Analyze` calls. The proxies are read-only, so sharing
them between requests is sharing them between policies once more.

The first step is also made cheaper: a resource's properties are a `google.protobuf.Struct`,
and `struct_to_dict` turns one into the dict `json_format.MessageToDict` returns (proto3
JSON mapping: null -> None, numbers as floats, strings, bools, nested lists and maps, keys
in the map's order) without its generic per-field machinery. Other messages, and numbers
JSON cannot hold (NaN, infinity), go to `MessageToDict` itself.

Only the pack's entry point (`policies/__main__.py`) installs it. If a pulumi-policy
upgrade renames what is patched, `install()` raises instead of silently doing nothing.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import gc
import threading
import types
from typing import Any

from . import _request

_DECODERS = ("deserialize_properties", "unknown_checking_proxy")
_SCOPED = ("Analyze", "AnalyzeStack")
_PARTS = ("_get_resource_options", "_get_provider_resource")  # servicer methods of one resource message
_saved: dict[str, Any] = {}  # what install() replaced, for uninstall()


_STRUCT = "google.protobuf.Struct"
DECODED_MAX = 65_536  # distinct properties Structs remembered across requests (LRU)


class _Decoded:
    """Wire bytes of a Struct -> {tag: value} of its decoding chain, the last `limit` used."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._table: collections.OrderedDict[bytes, dict[str, Any]] = collections.OrderedDict()

    def entry(self, key: bytes) -> dict[str, Any]:
        with self._lock:
            found = self._table.get(key)
            if found is not None:
                self._table.move_to_end(key)
                return found
            found = self._table[key] = {}
            if len(self._table) > self.limit:
                self._table.popitem(last=False)
            return found

    def clear(self) -> None:
        with self._lock:
            self._table.clear()

    def __len__(self) -> int:
        return len(self._table)


_decoded = _Decoded(DECODED_MAX)


class _NotJson(Exception):
    """A number JSON cannot hold: let MessageToDict raise its own error."""


def struct_to_dict(struct: Any) -> dict:
    """A Struct message as `json_format.MessageToDict` returns it."""
    fields = struct.fields
    return {key: _value(fields[key]) for key in fields}


def _value(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "struct_value":
        return struct_to_dict(value.struct_value)
    if kind == "number_value":
        number = value.number_value
        if number != number or number in (float("inf"), float("-inf")):
            raise _NotJson
        return number
    if kind == "bool_value":
        return value.bool_value
    if kind == "list_value":
        return [_value(item) for item in value.list_value.values]
    return None  # null_value, or no value set


def _message_to_dict(message_to_dict):
    @functools.wraps(message_to_dict)
    def convert(message: Any, *args: Any, **kwargs: Any) -> Any:
        if not args and not kwargs and message.DESCRIPTOR.full_name == _STRUCT:
            try:
                return struct_to_dict(message)
            except _NotJson:
                pass
        return message_to_dict(message, *args, **kwargs)
    return convert


def _remembered(fn, tag: str):
    @functools.wraps(fn)
    def decode(value: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not _request.active():
            return fn(value, *args, **kwargs)  # e.g. Remediate's proxy_secrets=True
        return _request.memo(value, tag, lambda: fn(value))
    decode.shared_decode = True
    return decode


_CHAIN = ("MessageToDict", "deserialize_properties", "unknown_checking_proxy")


def _remembered_struct(fn):
    """MessageToDict of a Struct, remembered across requests by the Struct's wire bytes.

    A cached dict comes back with the rest of its chain: the request's memo learns that its
    deserialize_properties and unknown_checking_proxy are the ones computed before, so the
    whole decoding of known properties is one serialisation and one lookup.
    """
    @functools.wraps(fn)
    def decode(value: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not _request.active() or value.DESCRIPTOR.full_name != _STRUCT:
            return fn(value, *args, **kwargs)
        known = _request.recall(value, "MessageToDict")
        if known is not None:
            return known  # the next policy of the same request
        entry = _decoded.entry(value.SerializeToString(deterministic=True))
        chain = entry.get("chain")
        if chain is not None:
            obj = value
            for tag, result in zip(_CHAIN, chain):
                _request.remember(obj, tag, result)
                obj = result
            return chain[0]
        result = fn(value)
        entry["pending"] = result  # completed by _complete_chain() once the proxy is built
        _request.remember(result, "_decoded_entry", entry)
        return result
    decode.shared_decode = True
    return decode


def _complete_chain(deserialize, proxy):
    """deserialize_properties and unknown_checking_proxy that finish the cross-request entry
    started by `_remembered_struct` (MessageToDict -> deserialize -> proxy)."""
    @functools.wraps(deserialize)
    def deserialized(value: Any, *args: Any, **kwargs: Any) -> Any:
        result = deserialize(value, *args, **kwargs)
        if not args and not kwargs and _request.active():
            entry = _request.recall(value, "_decoded_entry")
            if entry is not None:
                _request.remember(result, "_decoded_entry", (entry, value))
        return result

    @functools.wraps(proxy)
    def proxied(value: Any, *args: Any, **kwargs: Any) -> Any:
        result = proxy(value, *args, **kwargs)
        if not args and not kwargs and _request.active():
            found = _request.recall(value, "_decoded_entry")
            if isinstance(found, tuple):
                entry, as_dict = found
                if entry.get("pending") is as_dict:
                    entry["chain"] = (as_dict, value, result)
                    entry.pop("pending", None)
        return result

    deserialized.shared_decode = proxied.shared_decode = True
    return deserialized, proxied


@contextlib.contextmanager
def _collector_paused():
    """Python's cyclic garbage collector off for the call, back as it was after.

    An AnalyzeStack request decodes every resource of the stack and keeps all of them alive
    until its policies have run: tens of thousands of containers at 1,000 tenants, which
    the collector would scan again and again as they accumulate (at 1,000 tenants most of
    the call's time). What the call frees is freed by reference counting as usual; cycles,
    if any, are collected once the collector is back on.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _after_analyze() -> None:
    """What is alive after an Analyze call is, for the most part, `_Decoded`'s resources,
    kept for AnalyzeStack: moved out of the collector's generations (`gc.freeze`, constant
    time) so that they are not scanned again by every full collection while the stack's
    resources accumulate (at 1,000 tenants that scanning more than doubles the Analyze
    calls' time). Reference counting still frees them when `_Decoded` drops them."""
    gc.freeze()


def _after_analyze_stack() -> None:
    """The stack is complete: back under the collector (`gc.unfreeze`), so that cycles frozen
    with the decoded resources, if any, are collected as usual."""
    gc.unfreeze()


def _part_remembered(method, tag: str):
    """A servicer method building one part of a PolicyResource (its options, its provider)
    from a resource message: once per message within a request, for all the policies."""
    @functools.wraps(method)
    def part(self, message):
        if not _request.active():
            return method(self, message)
        return _request.memo(message, tag, lambda: method(self, message))
    part.shared_decode = True
    return part


def _in_scope(method, stack: bool):
    after = _after_analyze_stack if stack else _after_analyze
    pause = _collector_paused if stack else contextlib.nullcontext

    @functools.wraps(method)
    def answer(self, request, context):
        try:
            with _request.scope(), pause():
                return method(self, request, context)
        finally:
            after()
    answer.shared_decode = True
    return answer


def install() -> None:
    """Patch the analyzer of the installed pulumi-policy (idempotent)."""
    from pulumi_policy import policy as server

    servicer = server._PolicyAnalyzerServicer
    missing = [n for n in _DECODERS + ("json_format",) if not hasattr(server, n)]
    missing += [n for n in _SCOPED + _PARTS if not hasattr(servicer, n)]
    if missing:
        raise RuntimeError(f"pulumi_policy.policy has no {', '.join(missing)}: "
                           "update policies/guardrails/_shared_decode.py for this pulumi-policy")
    if getattr(server.deserialize_properties, "shared_decode", False):
        return
    _saved.update({"json_format": server.json_format, **{n: getattr(server, n) for n in _DECODERS},
                   **{f"servicer.{n}": getattr(servicer, n) for n in _SCOPED}})
    _decoded.clear()
    json_format = server.json_format
    server.json_format = types.SimpleNamespace(
        **{n: getattr(json_format, n) for n in dir(json_format) if not n.startswith("__")})
    server.json_format.MessageToDict = _remembered_struct(_remembered(_message_to_dict(json_format.MessageToDict), "MessageToDict"))
    deserialize, proxy = _complete_chain(server.deserialize_properties, server.unknown_checking_proxy)
    server.deserialize_properties = _remembered(deserialize, "deserialize_properties")
    server.unknown_checking_proxy = _remembered(proxy, "unknown_checking_proxy")
    for name in _PARTS:
        _saved[f"servicer.{name}"] = getattr(servicer, name)
        setattr(servicer, name, _part_remembered(getattr(servicer, name), name))
    for name in _SCOPED:
        setattr(servicer, name, _in_scope(getattr(servicer, name), stack=name == "AnalyzeStack"))


def uninstall() -> None:
    """Put the analyzer back as pulumi-policy ships it (tests compare the two)."""
    from pulumi_policy import policy as server

    for name, value in _saved.items():
        if name.startswith("servicer."):
            setattr(server._PolicyAnalyzerServicer, name.split(".", 1)[1], value)
        else:
            setattr(server, name, value)
    _saved.clear()
    _decoded.clear()
    gc.unfreeze()
