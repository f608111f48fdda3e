"""tools.bench.graph: longest dependency chain over custom resources (pure, no program run)."""

import pytest

from tools.bench.graph import critical_path, longest_chain, topological_order


def res(name, type_="command:remote:Command", deps=(), provider=None):
    return {"urn": f"u:{name}", "type": type_, "name": name, "dependsOn": [f"u:{d}" for d in deps],
            "provider": f"u:{provider}" if provider else None}


def test_longest_chain_skips_components_and_counts_remote_steps():
    resources = [
        res("key", "tls:index/privateKey:PrivateKey"),
        res("comp", "k3s-platform:cluster:K3sCluster"),
        res("install", deps=["key", "comp"]),
        res("join", deps=["install"]),
        res("side", "random:index/randomPassword:RandomPassword", deps=["key"]),
        res("prov", "pulumi:providers:kubernetes", deps=["join"]),
        res("chart", "kubernetes:helm.sh/v3:Release", provider="prov"),
    ]
    path = critical_path(resources)
    assert path["names"] == ["key", "install", "join", "prov"]
    assert path["remote_steps"] == 2 and path["custom_resources"] == 6
    assert critical_path(resources, provider_edges=True)["names"][-1] == "chart"


def test_topological_order_rejects_cycles():
    assert longest_chain({}) == []
    with pytest.raises(ValueError, match="cycle"):
        topological_order({"a": ["b"], "b": ["a"]})
