"""Fixtures for the cluster tests: `host`, a sandboxed k3s host (tests/cluster/host_sandbox.py)."""

from .host_sandbox import host  # noqa: F401 (a fixture, found by pytest here)
