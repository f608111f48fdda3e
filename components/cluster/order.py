"""The order of the remote steps, as data (pure): which node step waits for which.

Create (install steps): joining servers one after another — etcd adds one member at a
time — and agents right behind the first server. Upgrade (upgrade steps): servers one at a
time, then every agent after the last server (Kubernetes version skew). Membership (member
steps, whose delete drains a node and removes its Node and so its etcd member): each server's
after the previous server's, agents' after the first server's, so a destroy removes members
in the reverse order, one server at a time and the first server last. See ADR 0002.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from components.config.cluster import Member


@dataclass(frozen=True)
class StepOrder:
    """Node names each node's install / upgrade step waits for (besides its own earlier steps)."""

    install_after: dict[str, tuple[str, ...]]
    upgrade_after: dict[str, tuple[str, ...]]
    member_after: dict[str, tuple[str, ...]]
    needs_endpoint: frozenset[str]  # nodes that register through apiHostname


def step_order(nodes: Sequence[Member]) -> StepOrder:
    servers = [n.name for n in nodes if n.role == "server"]
    install_after: dict[str, tuple[str, ...]] = {}
    upgrade_after: dict[str, tuple[str, ...]] = {}
    member_after: dict[str, tuple[str, ...]] = {}
    for node in nodes:
        if node.role == "server":
            i = servers.index(node.name)
            install_after[node.name] = upgrade_after[node.name] = member_after[node.name] = tuple(servers[i - 1:i])
        else:
            install_after[node.name] = member_after[node.name] = tuple(servers[:1])
            upgrade_after[node.name] = tuple(servers[-1:])
    return StepOrder(install_after, upgrade_after, member_after, frozenset(n.name for n in nodes if not n.first))
