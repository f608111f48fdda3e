"""The Router as earlier versions named it, for tests that start from a stack made by them:
DHCP static mappings named after their node (`<router>-dhcp-<node>`) instead of their MAC,
with no alias. Only the names differ; payloads and natural keys are today's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from unittest import mock

from components.network import payloads


@contextmanager
def mappings_named_by_node() -> Iterator[None]:
    """While active, the Router registers each mapping under its node's name, unaliased."""
    current = payloads.render_static_mappings

    def by_node(settings, inventory):
        return [replace(obj, role=payloads.legacy_static_mapping_role(obj.payload["hostname"]), aliases=())
                for obj in current(settings, inventory)]

    with mock.patch.object(payloads, "render_static_mappings", by_node):
        yield
