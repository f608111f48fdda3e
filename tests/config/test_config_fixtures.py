"""Config fixtures: every `valid/` file parses; every `invalid/` fixture (the shared base
plus its patch, see tests/config/fixtures.py) fails with exactly the message its `# expect:`
line names (and the plan exits 2 on it, without a traceback: test_config_files.py)."""

from pathlib import Path

import pytest
import yaml

from components.config import ConfigError, parse_config_keys, parse_stack_config
from tests.config.fixtures import INVALID, PatchError, base_document, expected, stack_document

HERE = Path(__file__).parent
VALID = sorted((HERE / "valid").glob("*.yaml"))


def _without_secrets(config: dict) -> dict:
    """Config as the CLI hands it over: full keys, secrets left out."""
    return {k: v for k, v in config.items() if not isinstance(v, dict) or "secure" not in v}


def full_config(path: Path) -> dict:
    """A `valid/` file's config, or an `invalid/` fixture's (base + patch)."""
    doc = stack_document(path) if path.parent.name == "invalid" else yaml.safe_load(path.read_text())
    return _without_secrets(doc["config"])


def raw_config(path: Path) -> dict:
    return {k.split(":", 1)[1]: v for k, v in full_config(path).items()}


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_fixture_parses(path):
    cfg = parse_stack_config(raw_config(path))
    assert cfg.cluster.servers, "a valid config has servers"


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_fixture_names_key_and_fix(path):
    with pytest.raises(ConfigError) as err:
        parse_config_keys(full_config(path))
    assert err.value.problems == [expected(path)]


def test_the_fixture_base_is_valid():
    parse_config_keys(_without_secrets(base_document()["config"]))


def test_each_fixture_patch_is_small():
    # One mistake each: a patch that grows past a few operations is a second base.
    for path in INVALID:
        assert 1 <= len(yaml.safe_load(path.read_text())["patch"]) <= 3, path.name


@pytest.mark.parametrize("patch,message", [
    ("- replace: /k3s-platform:cluster/nodes/0/ip\n  value: 10.0.0.1\n", "'nodes' does not exist in the base"),
    ("- replace: /k3s-platform:cluster/agents/7/ip\n  value: 10.0.0.1\n", "list index '7' is not in 0..1"),
    ("- remove: /k3s-platform:clusterr\n", "no such key in the base"),
    ("- add: /k3s-platform:domain\n  value: a.example.org\n", "the key already exists (use replace)"),
    ("- replace: /k3s-platform:domain\n", "`value` is required"),
    ("- set: /k3s-platform:domain\n  value: a.example.org\n", "one of replace, add, remove"),
    ("  []\n", "expected a non-empty `patch:` list"),
])
def test_a_patch_that_no_longer_applies_fails_loudly(tmp_path, patch, message):
    path = tmp_path / "stale.yaml"
    path.write_text("# mistake: stale\n# expect: never reached\npatch:\n" + patch)
    with pytest.raises(PatchError) as err:
        stack_document(path)
    assert str(err.value).startswith("stale.yaml: ") and message in str(err.value)


def test_enough_invalid_fixtures():
    # Each mistake the issue lists has its own fixture.
    names = {p.stem for p in INVALID}
    for required in ("two-servers", "agent-outside-lan", "duplicate-mac", "malformed-ip",
                     "malformed-cidr", "malformed-mac", "node-in-dhcp-range", "node-is-gateway",
                     "duplicate-ip", "duplicate-node-name", "overlapping-cidrs", "no-servers",
                     "host-outside-domain", "unknown-key"):
        assert required in names


def test_all_problems_reported_at_once():
    raw = raw_config(HERE / "valid" / "prod-ha.yaml")
    raw["cluster"]["servers"] = raw["cluster"]["servers"][:2]
    raw["cluster"]["agents"][0]["ip"] = "10.1.1.1"
    raw["tenants"][0]["hosts"] = ["blog.elsewhere.net"]
    with pytest.raises(ConfigError) as err:
        parse_stack_config(raw)
    assert len(err.value.problems) == 3
    report = err.value.report("prod")
    assert report.startswith("invalid configuration in Pulumi.prod.yaml (3 problem(s)):")
    assert "Traceback" not in report


def test_a_field_error_does_not_hide_cross_field_errors_elsewhere():
    raw = raw_config(HERE / "valid" / "prod-ha.yaml")
    raw["clusterr"] = {}                                   # unknown top-level key
    raw["ingress"]["replicas"] = 0                         # field error in another section
    raw["cluster"]["agents"][1]["mac"] = raw["cluster"]["servers"][0]["mac"]  # cross-field
    raw["tenants"][0]["hosts"] = ["blog.elsewhere.net"]    # cross-field (needs domain only)
    with pytest.raises(ConfigError) as err:
        parse_stack_config(raw)
    keys = [p.split(":")[0] for p in err.value.problems]
    assert keys == ["clusterr", "ingress.replicas", "cluster.agents[1].mac", "tenants[0].hosts[0]"]
