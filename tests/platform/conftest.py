"""Shared fixtures for the platform spec, persona and who-can tests.

``golden(name, text)`` compares text with ``tests/platform/golden/<name>``; run with
``UPDATE_GOLDEN=1`` to rewrite the files after an intended change (then review the diff).
"""

from __future__ import annotations

import os
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
# The cluster's Kubernetes minor; kubernetes-validate picks the newest schema not newer.
K8S_VERSION = "1.34"


def to_yaml(objects) -> str:
    """Stable multi-document YAML (keys in insertion order, as the builders emit them)."""
    if isinstance(objects, dict):
        objects = [objects]
    return "---\n".join(yaml.safe_dump(o, sort_keys=False, default_flow_style=False) for o in objects)


@pytest.fixture
def golden():
    def check(name: str, text: str) -> None:
        path = GOLDEN_DIR / name
        if os.environ.get("UPDATE_GOLDEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1 and review it"
        assert text == path.read_text(), f"{name} differs from its golden file; if intended, UPDATE_GOLDEN=1"

    return check


@pytest.fixture
def validate_k8s():
    """Validate one object against the Kubernetes OpenAPI schema, strict (no unknown fields)."""

    def check(obj: dict) -> None:
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{obj['kind']} {obj['metadata'].get('name')}: {err.message}")

    return check
