"""The architecture picture names every node and tenant, is deterministic, and renders."""

from __future__ import annotations

import shutil

import pytest

from tools.imitations.harness import Registration, StackRun, run_stack, stack_config
from tools.plan.diagram import GraphvizMissing, architecture_dot, render_svg_png


@pytest.fixture(scope="module")
def prod_run() -> StackRun:
    return run_stack("prod")


def test_prod_dot_names_every_node_tenant_and_persona(prod_run):
    dot = architecture_dot(prod_run, stack_config("prod"))
    for node in ("cp1", "cp2", "cp3", "w1", "w2"):
        assert f'"node:{node}"' in dot
    assert dot.count("k3s server") == 3 and dot.count("k3s agent") == 2
    for tenant in ("blog", "shop"):
        assert f'"tenant:{tenant}"' in dot and f"tenant {tenant}" in dot
    assert "blog.home.example.org" in dot and "www.home.example.org" in dot
    assert "shop.home.example.org" in dot
    assert "pfSense router" in dot and "HAProxy" in dot
    assert "PlatOps" in dot and "Group blog-appops" in dot and "Group shop-appops" in dot
    assert '"system:traefik"' in dot and '"system:cert-manager"' in dot


def test_dot_is_deterministic(prod_run):
    config = stack_config("prod")
    assert architecture_dot(prod_run, config) == architecture_dot(run_stack("prod"), config)


def test_fallbacks_without_charts_or_routes():
    ns = Registration(urn="urn:ns", type="kubernetes:core/v1:Namespace", name="t-ns", parent=None,
                      custom=True, provider=None, dependencies=[], property_dependencies={},
                      inputs={"metadata": {"name": "apps", "labels": {"k3s-platform/tenant": "apps"}}})
    sys_ns = Registration(urn="urn:traefik", type="kubernetes:core/v1:Namespace", name="traefik",
                          parent=None, custom=True, provider=None, dependencies=[],
                          property_dependencies={}, inputs={"metadata": {"name": "traefik"}})
    dot = architecture_dot(StackRun("x", [ns, sys_ns]))
    assert '"tenant:apps"' in dot
    assert "namespace traefik" in dot and "(no Chart registration in this run)" in dot
    assert "cert-manager\\n(not registered in this run)" in dot
    assert "no k3s nodes in this run" in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz `dot` not installed")
def test_svg_and_png_render(prod_run, tmp_path):
    svg, png = render_svg_png(architecture_dot(prod_run), tmp_path)
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    for name in ("cp1", "w2", "tenant blog", "tenant shop"):
        assert name in text
    assert png.read_bytes().startswith(b"\x89PNG")


def test_missing_dot_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(GraphvizMissing, match="install graphviz"):
        render_svg_png("digraph {}", tmp_path)


def _big_dot(tenants: int) -> str:
    nodes = "\n".join(f'    "tenant:t{i}" [label="tenant t{i}"];' for i in range(tenants))
    edges = "\n".join(f'  "router" -> "tenant:t{i}";' for i in range(tenants))
    return f'digraph architecture {{\n    "router" [label="router"];\n{nodes}\n{edges}\n}}\n'


def test_small_graphs_get_dots_defaults_large_ones_bounded_layout(prod_run):
    from tools.plan.diagram import LARGE_GRAPH_LIMITS, layout_args

    assert layout_args(architecture_dot(prod_run)) == ()  # dev and prod pictures as before
    assert layout_args(_big_dot(50)) == ()
    assert layout_args(_big_dot(500)) == LARGE_GRAPH_LIMITS


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz `dot` not installed")
def test_large_graph_renders_with_bounded_layout(tmp_path):
    svg, png = render_svg_png(_big_dot(300), tmp_path)
    assert svg.read_text().count('class="node"') == 301
    assert png.read_bytes().startswith(b"\x89PNG")
