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
policy decodes, the others get the same read-only proxies. Policies, names, enforcement
levels, messages and the "can't run policy" handling of unknown values are untouched.
`Remediate` (which asks for secret-preserving proxies) is not memoised. During
`AnalyzeStack` the cyclic garbage collector is paused (see `_collector_paused`).

The first step is also made cheaper: a resource's properties are a `google.protobuf.Struct`,
and `struct_to_dict` turns one into the dict `json_format.MessageToDict` returns (proto3
JSON mapping: null -> None, numbers as floats, strings, bools, nested lists and maps, keys
in the map's order) without its generic per-field machinery. Other messages, and numbers
JSON cannot hold (NaN, infinity), go to `MessageToDict` itself.

Only the pack's entry point (`policies/__main__.py`) installs it. If a pulumi-policy
upgrade renames what is patched, `install()` raises instead of silently doing nothing.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import types
from typing import Any

from . import _request

_DECODERS = ("deserialize_properties", "unknown_checking_proxy")
_SCOPED = ("Analyze", "AnalyzeStack")
_saved: dict[str, Any] = {}  # what install() replaced, for uninstall()


_STRUCT = "google.protobuf.Struct"


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


def _in_scope(method, pause_collector: bool):
    @functools.wraps(method)
    def answer(self, request, context):
        with _request.scope(), (_collector_paused() if pause_collector else contextlib.nullcontext()):
            return method(self, request, context)
    answer.shared_decode = True
    return answer


def install() -> None:
    """Patch the analyzer of the installed pulumi-policy (idempotent)."""
    from pulumi_policy import policy as server

    servicer = server._PolicyAnalyzerServicer
    missing = [n for n in _DECODERS + ("json_format",) if not hasattr(server, n)]
    missing += [n for n in _SCOPED if not hasattr(servicer, n)]
    if missing:
        raise RuntimeError(f"pulumi_policy.policy has no {', '.join(missing)}: "
                           "update policies/guardrails/_shared_decode.py for this pulumi-policy")
    if getattr(server.deserialize_properties, "shared_decode", False):
        return
    _saved.update({"json_format": server.json_format, **{n: getattr(server, n) for n in _DECODERS},
                   **{f"servicer.{n}": getattr(servicer, n) for n in _SCOPED}})
    json_format = server.json_format
    server.json_format = types.SimpleNamespace(
        **{n: getattr(json_format, n) for n in dir(json_format) if not n.startswith("__")})
    server.json_format.MessageToDict = _remembered(_message_to_dict(json_format.MessageToDict), "MessageToDict")
    for name in _DECODERS:
        setattr(server, name, _remembered(getattr(server, name), name))
    for name in _SCOPED:
        setattr(servicer, name, _in_scope(getattr(servicer, name), pause_collector=name == "AnalyzeStack"))


def uninstall() -> None:
    """Put the analyzer back as pulumi-policy ships it (tests compare the two)."""
    from pulumi_policy import policy as server

    for name, value in _saved.items():
        if name.startswith("servicer."):
            setattr(server._PolicyAnalyzerServicer, name.split(".", 1)[1], value)
        else:
            setattr(server, name, value)
    _saved.clear()
