"""The change mode (`./run plan <stack> --from OLD`): day-2 edits of the real stack files and
the steps the engine would take. A node's install step must never be replaced by an edit
that keeps the node: its delete uninstalls k3s and wipes the node's data."""

import shutil
from pathlib import Path

import pytest
import yaml

from tests.config.fixtures import INVALID_DIR, write_stack_file
from tools.imitations.engine_rules import DELETE, REPLACE, SAME, UPDATE, change_report, diff_runs
from tools.imitations.harness import run_stack
from tools.paths import ROOT

KEY = "k3s-platform:"


def edited(tmp_path: Path, stack: str, edit) -> tuple[Path, Path]:
    """(old, new): a temp copy of the stack file and a copy with `edit` applied to its config."""
    old = tmp_path / f"Pulumi.{stack}.old.yaml"
    shutil.copy(ROOT / f"Pulumi.{stack}.yaml", old)
    doc = yaml.safe_load(old.read_text())
    edit(doc["config"])
    new = tmp_path / f"Pulumi.{stack}.new.yaml"
    new.write_text(yaml.safe_dump(doc, sort_keys=False))
    return old, new


def steps_for(stack: str, old: Path, new: Path):
    return diff_runs(run_stack(stack, old), run_stack(stack, new))


def assert_no_install_replaced(steps):
    report = change_report(steps, "change").text()
    installs = [s for s in steps if s.name.endswith("-install")]
    assert installs, report
    assert not [s for s in installs if s.op in (REPLACE, DELETE)], report
    assert not [s for s in steps if s.destructive or s.error], report
    assert not change_report(steps, "change").failed, report


def _label(config):
    config[KEY + "cluster"]["servers"][0]["labels"] = {"topology.kubernetes.io/zone": "rack-a"}


def _taint(config):
    agents = config[KEY + "cluster"].get("agents") or config[KEY + "cluster"]["servers"]
    agents[0]["taints"] = ["dedicated=batch:NoSchedule"]


def _k3s_version(config):
    config[KEY + "cluster"]["k3sVersion"] = "v1.34.3+k3s1"


def _quota(config):
    tenant = config[KEY + "tenants"][0]
    tenant["quota"] = {"requestsCpu": "2", "requestsMemory": "4Gi", "limitsCpu": "4", "limitsMemory": "8Gi",
                       "pods": 20}


def _add_tenant(config):
    domain = config[KEY + "domain"]
    config[KEY + "tenants"].append({"name": "docs", "hosts": [f"docs.{domain}"], "appPorts": [8080]})


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("edit", [
    # Before ADR 0002's fix, the install step's `triggers` carried the config hash, so these
    # two replaced it: uninstall, then install, on the same host.
    pytest.param(_label, id="node-label"),
    pytest.param(_taint, id="node-taint"),
    pytest.param(_k3s_version, id="k3s-version"),
    pytest.param(_quota, id="tenant-quota"),
    pytest.param(_add_tenant, id="add-tenant"),
])
def test_day2_edit_replaces_no_install_step(stack, edit, tmp_path):
    old, new = edited(tmp_path, stack, edit)
    assert_no_install_replaced(steps_for(stack, old, new))


def test_k3s_version_change_runs_the_upgrade_steps_and_nothing_destructive(tmp_path):
    old, new = edited(tmp_path, "prod", _k3s_version)
    steps = {s.name: s for s in steps_for("prod", old, new)}
    for node in ("cp1", "cp2", "cp3", "w1", "w2"):
        upgrade = steps[f"k3s-cluster-{node}-upgrade"]
        assert upgrade.op in (UPDATE, REPLACE) and upgrade.destructive is None
        assert steps[f"k3s-cluster-{node}-install"].op in (SAME, UPDATE)


def test_removing_an_agent_uninstalls_only_that_agent(tmp_path):
    def drop_w2(config):
        config[KEY + "cluster"]["agents"] = [a for a in config[KEY + "cluster"]["agents"] if a["name"] != "w2"]

    old, new = edited(tmp_path, "prod", drop_w2)
    steps = steps_for("prod", old, new)
    report = change_report(steps, "change").text()
    uninstalls = [s for s in steps if s.destructive and s.name.endswith("-install")]
    assert [(s.op, s.name) for s in uninstalls] == [(DELETE, "k3s-cluster-w2-install")], report
    assert uninstalls[0].destructive.startswith("host 192.168.30.22: "), report
    # The only other host command: w2's member step drains it and deletes its Node, on cp1.
    destructive = {s.name: s.destructive for s in steps if s.destructive}
    assert set(destructive) == {"k3s-cluster-w2-install", "k3s-cluster-w2-member"}, report
    assert destructive["k3s-cluster-w2-member"].startswith("host 192.168.30.11: "), report
    assert not [s for s in steps if s.op == REPLACE], report
    # prod protects these steps: the engine refuses the deletes until the operator runs
    # `pulumi state unprotect` on them (docs/operations.md); nothing else is refused.
    refused = [s.name for s in steps if s.error]
    assert "k3s-cluster-w2-install" in refused and all("-w2-" in name for name in refused), report
    deleted = {s.name for s in steps if s.op == DELETE}
    assert {"k3s-cluster-w2-install", "k3s-cluster-w2-upgrade", "k3s-cluster-w2-config",
            "k3s-cluster-w2-prepare"} <= deleted, report
    # ... and w2's DHCP mapping, named by its MAC (52:54:00:10:00:22).
    assert all("w2" in name for name in deleted - {"k3s-router-dhcp-52-54-00-10-00-22"}), report
    assert "k3s-router-dhcp-52-54-00-10-00-22" in deleted, report


def test_unchanged_config_is_all_same():
    steps = diff_runs(run_stack("prod"), run_stack("prod"))
    assert {s.op for s in steps} == {"same"}


def plan_cli(*args):
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "tools.plan", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=600)


def test_cli_change_mode_exit_codes_and_layout(tmp_path):
    old, new = edited(tmp_path, "prod", _k3s_version)
    result = plan_cli("prod", "--from", old, "--config-file", new)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ", 0 delete, 0 create, " in result.stdout.splitlines()[1]
    assert "DESTRUCTIVE" not in result.stdout

    def drop_w2(config):
        config[KEY + "cluster"]["agents"].pop()

    old, new = edited(tmp_path, "prod", drop_w2)
    result = plan_cli("prod", "--from", old, "--config-file", new)
    lines = result.stdout.splitlines()
    assert result.returncode == 1, result.stdout  # the install step is protected in prod
    assert lines[2].startswith("destructive (")
    destructive = lines[3:3 + int(lines[2].split("(")[1].split(")")[0])]
    assert any("w2-install DESTRUCTIVE-ON-HOST host 192.168.30.22" in line for line in destructive)
    assert "placeholder-" not in result.stdout and "PRIVATE KEY" not in result.stdout

    result = plan_cli("prod", "--from", write_stack_file(INVALID_DIR / "duplicate-mac.yaml", tmp_path / "bad"))
    assert result.returncode == 2 and "Traceback" not in result.stderr


def _people(config):
    return config[KEY + "people"]


def test_a_person_added_or_removed_is_their_certificate_and_bindings_only(tmp_path):
    """Onboarding and offboarding touch nothing but that person's resources: the pack setting
    and RBAC of everyone else, the provider and the nodes stay as they are."""
    def add_erin(config):
        _people(config).append({"name": "erin", "role": "appops", "tenants": ["blog", "shop"]})

    old, new = edited(tmp_path, "prod", add_erin)
    steps = steps_for("prod", old, new)
    report = change_report(steps, "change").text()
    changed = {(s.op, s.name) for s in steps if s.op != SAME}
    assert changed == {("create", n) for n in (
        "k3s-people-erin-key", "k3s-people-erin-csr", "k3s-people-erin-cert",
        "k3s-people-erin-blog", "k3s-people-erin-shop")}, report
    assert not change_report(steps, "change").failed, report

    steps = steps_for("prod", new, old)  # and erin leaves again
    report = change_report(steps, "change").text()
    assert {(s.op, s.name) for s in steps if s.op != SAME} == {(DELETE, n) for _op, n in changed}, report
    assert not [s for s in steps if s.destructive], report


def test_a_platops_person_gets_a_certificate_and_one_cluster_wide_binding(tmp_path):
    def add_frank(config):
        _people(config).append({"name": "frank", "role": "platops"})

    old, new = edited(tmp_path, "prod", add_frank)
    steps = steps_for("prod", old, new)
    assert {s.name for s in steps if s.op != SAME} == {
        "k3s-people-frank-key", "k3s-people-frank-csr", "k3s-people-frank-cert", "k3s-people-frank-platops"}


def test_raising_the_token_generation_rotates_in_place(tmp_path):
    """A token rotation creates the new token and the rotation step and updates every install
    (their stdin changed); no node is replaced or uninstalled and the old token stays."""
    def rotate(config):
        config[KEY + "cluster"]["tokenGeneration"] = 2

    old, new = edited(tmp_path, "prod", rotate)
    steps = steps_for("prod", old, new)
    report = change_report(steps, "change").text()
    created = {s.name for s in steps if s.op == "create"}
    assert created == {"k3s-cluster-token-2", "k3s-cluster-token-rotate"}, report
    updated = {s.name for s in steps if s.op == UPDATE}
    assert {f"k3s-cluster-{n}-install" for n in ("cp1", "cp2", "cp3", "w1", "w2")} <= updated, report
    assert "k3s-cluster-join-token" in updated, report
    assert not [s for s in steps if s.op in (REPLACE, DELETE)], report
