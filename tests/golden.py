"""Golden-file comparison shared by every test tier.

After an intended change, rewrite the files with `UPDATE_GOLDEN=1 ./run test` (or a narrower
pytest path) and review the diff before committing.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml


def check_golden(path: Path, text: str) -> None:
    """Assert `text` equals the golden file at `path` (or rewrite it under UPDATE_GOLDEN=1)."""
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(), f"{path} differs from its golden file; if intended, rerun with UPDATE_GOLDEN=1"


def to_yaml(objects) -> str:
    """Stable multi-document YAML (keys in insertion order, as the builders emit them)."""
    if isinstance(objects, dict):
        objects = [objects]
    return "---\n".join(yaml.safe_dump(o, sort_keys=False, default_flow_style=False) for o in objects)
