"""Fixtures for the cluster tests: `host`, a sandboxed host the node scripts run on."""

from .host_sandbox import host

__all__ = ["host"]
