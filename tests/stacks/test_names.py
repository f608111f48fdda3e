"""components/names.py builds the names the components register, and reads them back: the
config's duplicate-name check (derived_names) and the plan's parsers see the real names."""

from components import names
from components.config.stack import derived_names
from tools.imitations.harness import stack_config

ROUTER = "k3s-router"


def test_every_derived_router_name_is_registered(prod_run):
    registered = {r.name for r in prod_run.registrations}
    cfg = stack_config("prod")
    derived = [n for n, _, _ in derived_names(dict(cfg))]
    roles = [n for n in derived if " " not in n]  # nodes, tenants and people stand for families
    assert any(n.startswith("vpn-client-") for n in roles) and any(n.startswith("dns-") for n in roles)
    prefixes = {names.admin_rule_prefix(c) for c in cfg.network.admin_cidrs}  # of the rules that cross the router
    missing = [n for n in roles if f"{ROUTER}-{n}" not in registered
               and not (n in prefixes and any(r.startswith(f"{ROUTER}-{n}-") for r in registered))]
    assert not missing, missing


def test_node_steps_parse_back_to_the_configured_nodes(prod_run):
    cfg = stack_config("prod")
    nodes = {n.name for n in (*cfg.cluster.servers, *cfg.cluster.agents)}
    clusters = [r.name for r in prod_run.by_type(names.K3S_CLUSTER)]
    steps = [names.parse_node_step(r.name, clusters) for r in prod_run.by_type(names.REMOTE_COMMAND)]
    parsed = [s for s in steps if s is not None]
    assert {node for _, node, _ in parsed} == nodes
    assert {step for _, _, step in parsed} <= set(names.NODE_STEPS)
    assert {(node, "install") for _, node, step in parsed if step == "install"} == {(n, "install") for n in nodes}


def test_parse_node_step_prefers_the_longest_cluster_and_step():
    assert names.parse_node_step("k3s-a-secret-files", ["k3s"]) == ("k3s", "a", "secret-files")
    assert names.parse_node_step("k3s-x-cp1-install", ["k3s", "k3s-x"]) == ("k3s-x", "cp1", "install")
    assert names.parse_node_step("k3s-token-rotate", ["k3s"]) is None
    assert names.parse_node_step(names.node_step("k3s", "w-1", "upgrade"), ["k3s"]) == ("k3s", "w-1", "upgrade")
