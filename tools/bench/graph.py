"""Pure analysis of the resource dependency graph (no timing, no I/O).

Input is `tools.plan.render.resources(run)`: dicts with "urn", "type", "name", "dependsOn".
"""

from __future__ import annotations

from collections import deque

COMPONENT_PREFIX = "k3s-platform:"
REMOTE_PREFIX = "command:remote:"


def custom_graph(resources: list[dict], *, provider_edges: bool = False
                 ) -> tuple[dict[str, dict], dict[str, list[str]]]:
    """(custom resources by urn, urn -> urns it depends on), components and edges to them dropped.

    Edges are dependsOn (explicit + property deps). With provider_edges, a resource also
    depends on its explicit provider resource (the engine creates the provider first).
    """
    nodes = {r["urn"]: r for r in resources if not r["type"].startswith(COMPONENT_PREFIX)}
    edges = {}
    for urn, r in nodes.items():
        deps = set(r["dependsOn"])
        if provider_edges and r.get("provider"):
            deps.add(r["provider"])
        edges[urn] = sorted(d for d in deps if d in nodes)
    return nodes, edges


def topological_order(edges: dict[str, list[str]]) -> list[str]:
    """Kahn's algorithm, dependencies first; ties broken by urn for determinism. Raises on a cycle."""
    waiting = {u: len(deps) for u, deps in edges.items()}
    dependents: dict[str, list[str]] = {u: [] for u in edges}
    for u, deps in edges.items():
        for d in deps:
            dependents[d].append(u)
    ready = deque(sorted(u for u, n in waiting.items() if n == 0))
    order: list[str] = []
    while ready:
        u = ready.popleft()
        order.append(u)
        for v in sorted(dependents[u]):
            waiting[v] -= 1
            if waiting[v] == 0:
                ready.append(v)
    if len(order) != len(edges):
        raise ValueError("dependency cycle among: " + ", ".join(sorted(u for u in edges if waiting[u])))
    return order


def longest_chain(edges: dict[str, list[str]]) -> list[str]:
    """The longest dependency chain (most resources), first-created first."""
    best: dict[str, tuple[int, str | None]] = {}
    for u in topological_order(edges):
        length, prev = 1, None
        for d in edges[u]:
            if best[d][0] + 1 > length:
                length, prev = best[d][0] + 1, d
        best[u] = (length, prev)
    if not best:
        return []
    node: str | None = max(sorted(best), key=lambda u: best[u][0])
    chain: list[str] = []
    while node is not None:
        chain.append(node)
        node = best[node][1]
    return chain[::-1]


def critical_path(resources: list[dict], *, provider_edges: bool = False) -> dict:
    """Longest chain of custom resources by dependsOn: names, types, length, remote steps on it."""
    nodes, edges = custom_graph(resources, provider_edges=provider_edges)
    chain = longest_chain(edges)
    return {
        "names": [nodes[u]["name"] for u in chain],
        "types": [nodes[u]["type"] for u in chain],
        "length": len(chain),
        "remote_steps": sum(nodes[u]["type"].startswith(REMOTE_PREFIX) for u in chain),
        "custom_resources": len(nodes),
    }
