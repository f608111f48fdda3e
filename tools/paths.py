"""The repository's root, for every tool and test: `ROOT`, defined once here so that moving a
module to another folder cannot leave it counting the wrong number of `parents`.

Only tools/engine/sources.py finds the root itself: tools/engine/build.sh runs it as a plain
script with the system's python3, where the `tools` package is not importable.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
