"""Work shared by all policies within one analyzer request.

The analyzer calls every policy of the pack on the same resource (`Analyze`) or the same
stack (`AnalyzeStack`). While a request is being answered (`scope()`), `memo(obj, tag,
compute)` computes a value derived from `obj` once and hands the same value to every
later caller in that request; outside a request (unit tests, direct calls) it simply
computes. Keys are object identities, held for the request so they cannot be reused, and
everything is dropped when the request ends. One scope per thread: the analyzer's server
answers requests on a thread pool.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

_local = threading.local()


@contextmanager
def scope() -> Iterator[None]:
    """Share derived values between the policies answering one request."""
    outer = getattr(_local, "memo", None)
    _local.memo = {}
    try:
        yield
    finally:
        _local.memo = outer


def active() -> bool:
    return getattr(_local, "memo", None) is not None


def memo(obj: Any, tag: str, compute: Callable[[], T]) -> T:
    """`compute()`, once per (obj, tag) within the current request; every call outside one."""
    table = getattr(_local, "memo", None)
    if table is None:
        return compute()
    key = (id(obj), tag)
    hit = table.get(key)
    if hit is not None and hit[0] is obj:
        return hit[1]
    value = compute()  # an exception is not remembered: the next policy meets it too
    table[key] = (obj, value)
    return value


def remember(obj: Any, tag: str, value: Any) -> None:
    """Record `value` as (obj, tag)'s within the current request (nothing outside one)."""
    table = getattr(_local, "memo", None)
    if table is not None:
        table[(id(obj), tag)] = (obj, value)


def recall(obj: Any, tag: str) -> Any:
    """(obj, tag)'s value within the current request, None if there is none."""
    table = getattr(_local, "memo", None)
    hit = table.get((id(obj), tag)) if table is not None else None
    return hit[1] if hit is not None and hit[0] is obj else None
