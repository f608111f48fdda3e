"""Paths as the person running a tool meant them.

`./run` changes to the repository before starting Python, so a relative path on its command
line would otherwise be read against the repository, not where it was typed. `./run` exports
the directory it was called from as K3S_PLATFORM_CALLER_CWD; without it (python -m ...),
the process's own working directory is the caller's.
"""

from __future__ import annotations

import os
from pathlib import Path

CALLER_CWD = "K3S_PLATFORM_CALLER_CWD"


def caller_path(path: Path | str) -> Path:
    """`path` as the caller meant it: relative to the directory the command was run from
    (left relative, so messages show it as typed, when that is the process's own)."""
    path = Path(path).expanduser()
    base = os.environ.get(CALLER_CWD)
    return path if path.is_absolute() or not base else Path(base) / path
