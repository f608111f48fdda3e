"""Config fixtures: every `valid/` file parses; every `invalid/` file fails with exactly the
message its `# expect:` line names (and the plan exits 2 on it, without a traceback)."""

from pathlib import Path

import pytest
import yaml

from components.config import ConfigError, parse_config_keys, parse_stack_config

HERE = Path(__file__).parent
VALID = sorted((HERE / "valid").glob("*.yaml"))
INVALID = sorted((HERE / "invalid").glob("*.yaml"))


def full_config(path: Path) -> dict:
    """The fixture's config as the CLI hands it over: full keys, secrets left out."""
    doc = yaml.safe_load(path.read_text())["config"]
    return {k: v for k, v in doc.items() if not isinstance(v, dict) or "secure" not in v}


def raw_config(path: Path) -> dict:
    return {k.split(":", 1)[1]: v for k, v in full_config(path).items()}


def expected(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("# expect: "):
            return line[len("# expect: "):]
    raise AssertionError(f"{path.name} has no '# expect:' line")


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_fixture_parses(path):
    cfg = parse_stack_config(raw_config(path))
    assert cfg.cluster.servers, "a valid config has servers"


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_fixture_names_key_and_fix(path):
    with pytest.raises(ConfigError) as err:
        parse_config_keys(full_config(path))
    assert err.value.problems == [expected(path)]


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
