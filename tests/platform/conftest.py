"""Shared fixtures for the platform spec, persona and who-can tests.

``golden(name, text)`` compares text with ``tests/platform/golden/<name>``; run with
``UPDATE_GOLDEN=1`` to rewrite the files after an intended change (then review the diff).
"""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest

from tests.golden import check_golden, to_yaml  # noqa: F401 - re-exported to the tests

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
# The cluster's Kubernetes minor; kubernetes-validate picks the newest schema not newer.
K8S_VERSION = "1.34"


@pytest.fixture
def golden():
    def check(name: str, text: str) -> None:
        check_golden(GOLDEN_DIR / name, text)

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
