"""Test data that lives outside this repository, in `../shared` beside the clone (or where
`K3SP_SHARED` points): Pod Security conformance fixtures, the local chart repository, and the
reference copy of the CRD schemas.

`shared_path(...)`, called at module level, returns the path when it exists. Otherwise the
whole module is skipped with one line (`-rs`, pytest.ini) naming what is missing and where to
get it — unless `K3SP_REQUIRE_SHARED=1` (set by
.ci/run), which turns that skip into a failure, so CI cannot pass by skipping.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tools.paths import ROOT

SHARED = Path(os.environ.get("K3SP_SHARED") or ROOT.parent / "shared").resolve()


def required() -> bool:
    return os.environ.get("K3SP_REQUIRE_SHARED") == "1"


def shared_path(relative: str, what: str, where: str) -> Path:
    """`SHARED / relative`, or skip the calling module (fail under K3SP_REQUIRE_SHARED=1)."""
    path = SHARED / relative
    if path.exists():
        return path
    caller = Path(inspect.stack()[1].filename).resolve()
    module = caller.relative_to(ROOT) if caller.is_relative_to(ROOT) else caller
    message = (f"{module}: {what} not found at {path} — {where} "
               f"(K3SP_SHARED=DIR to look in DIR instead of {ROOT.parent / 'shared'})")
    if required():
        pytest.fail(f"K3SP_REQUIRE_SHARED=1: {message}", pytrace=False)
    pytest.skip(message, allow_module_level=True)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve `directory` (e.g. the local chart repository) on 127.0.0.1, a free port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
