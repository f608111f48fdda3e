"""docs/config.md is generated from the models and must match them."""

from tools import config_doc


def test_config_reference_is_up_to_date():
    assert config_doc.main(["--check"]) == 0, "run: python -m tools.config_doc"


def test_reference_lists_nested_keys_with_defaults():
    keys = {row[0]: row for row in config_doc.rows(config_doc.StackConfig, "")}
    assert keys["cluster.servers[].mac"][2] == "**required**"
    assert keys["cluster.podCidr"][2] == "`10.42.0.0/16`"
    assert "tenants[].quota.limitsMemory" in keys
    assert "router.vpn.clients" in keys
