"""`python -m tools.plan` as users run it: files, exit codes, determinism, redaction."""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from tests.config.fixtures import INVALID_DIR, write_stack_file
from tools.paths import ROOT


def plan(*args, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "tools.plan", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def dev_plan(tmp_path_factory):
    out = tmp_path_factory.mktemp("dev")
    result = plan("dev", "--out", out)
    assert result.returncode == 0, result.stdout + result.stderr
    return out, result


@pytest.fixture(scope="module")
def prod_plan(tmp_path_factory):
    out = tmp_path_factory.mktemp("prod")
    result = plan("prod", "--out", out)
    assert result.returncode == 0, result.stdout + result.stderr
    return out, result


def test_plan_writes_summary_nodes_and_manifests(dev_plan, prod_plan):
    for (out, result), nodes in ((dev_plan, {"lab1"}), (prod_plan, {"cp1", "cp2", "cp3", "w1", "w2"})):
        summary = json.loads((out / "summary.json").read_text())
        assert set(summary) == {"stack", "resources", "violations"}
        assert summary["violations"] == []
        for r in summary["resources"]:
            assert set(r) >= {"urn", "type", "name", "parent", "dependsOn", "aliases", "inputs"}
        assert {p.name for p in (out / "nodes").iterdir()} == nodes
        for node in nodes:
            names = {p.name for p in (out / "nodes" / node).iterdir()}
            assert {"config.yaml", "install.sh", "upgrade.sh", "uninstall.sh"} <= names
        assert "resources" in result.stdout and "cluster:" in result.stdout


def test_plan_is_deterministic(dev_plan, tmp_path):
    first, _ = dev_plan
    again = plan("dev", "--out", tmp_path)
    assert again.returncode == 0
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    for rel in files:
        assert (first / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel


def test_no_secret_in_plan(prod_plan):
    out, _ = prod_plan
    text = "\n".join(p.read_text() for p in out.rglob("*") if p.is_file() and p.suffix != ".png")
    for placeholder in ("placeholder-sshPrivateKey", "placeholder-pfsenseApiKey", "placeholder-dashboardPassword",
                        "PRIVATE KEY-----\nMOCK", "client-key-data"):
        assert placeholder not in text
    assert "[secret]" in text


@pytest.mark.parametrize("fixture,key", [
    ("two-servers", "cluster.servers:"),
    ("agent-outside-lan", "cluster.agents[0].ip:"),
    ("duplicate-mac", "cluster.agents[1].mac:"),
])
def test_invalid_config_exits_nonzero_naming_the_key(fixture, key, tmp_path):
    config_file = write_stack_file(INVALID_DIR / f"{fixture}.yaml", tmp_path)
    result = plan("prod", "--out", tmp_path / "o", "--config-file", config_file)
    assert result.returncode == 2
    assert key in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_missing_config_file_is_a_clear_error(tmp_path):
    result = plan("prod", "--config-file", tmp_path / "nope.yaml")
    assert result.returncode == 2 and "no such stack config file" in result.stderr
    assert "Traceback" not in result.stderr


def test_encrypted_secrets_become_placeholders(tmp_path):
    doc = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    doc["config"]["k3s-platform:sshPrivateKey"] = {"secure": "v1:AAAA"}
    cfg = tmp_path / "Pulumi.dev.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    result = plan("dev", "--out", tmp_path / "o", "--config-file", cfg)
    assert result.returncode == 0, result.stderr
    assert "v1:AAAA" not in (tmp_path / "o" / "summary.json").read_text()


def test_without_graphviz_the_plan_is_written_and_says_so(tmp_path):
    """No `dot` on PATH: architecture.dot is written, one line says how to get the pictures, exit 0."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)  # PATH holds the interpreter and nothing else
    env = dict(os.environ, PYTHONPATH=str(ROOT), PATH=str(bin_dir))
    out = tmp_path / "o"
    result = subprocess.run([sys.executable, "-m", "tools.plan", "dev", "--out", str(out)], cwd=ROOT,
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / "architecture.dot").read_text().startswith("digraph")
    assert not (out / "architecture.svg").exists() and not (out / "architecture.png").exists()
    notes = [line for line in result.stderr.splitlines() if "graphviz" in line]
    assert len(notes) == 1 and "apt-get install graphviz" in notes[0] and "skipped" in notes[0]
    assert "Traceback" not in result.stderr


def test_progress_lines_name_each_stage_with_counts_and_seconds(dev_plan, tmp_path):
    _, quiet = dev_plan
    assert "plan: " not in quiet.stderr  # a small plan stays quiet unless asked
    result = plan("dev", "--out", tmp_path / "o", "--progress")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("plan: ")]
    stages = [line.split(": ")[1] for line in lines]
    assert stages == ["stack evaluated", "objects validated", "policies checked", "files rendered", "files written"]
    for line in lines:
        assert re.search(r": \d+ \w+.* in \d+\.\d s$", line), line
