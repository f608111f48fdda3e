"""The merge-request gate's mode: `--report-only` passes creates and in-place updates and
fails only what a reviewer must approve; `--out` gets the Markdown report in every mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.plan.test_against import committed_copy
from tests.plan.test_change_mode import KEY, _add_tenant, edited
from tools.imitations.engine_rules import CREATE, DELETE, REPLACE, UPDATE, Step
from tools.paths import ROOT
from tools.plan import review


def plan(*args, cwd=ROOT):
    env = {k: v for k, v in os.environ.items() if k != "K3S_PLATFORM_CALLER_CWD"}
    return subprocess.run([sys.executable, "-m", "tools.plan", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900, check=False)


def _drop_w2(config):
    config[KEY + "cluster"]["agents"] = [a for a in config[KEY + "cluster"]["agents"] if a["name"] != "w2"]


# --- what needs approval (pure) ---------------------------------------------------------------


def step(op, name="x", **kw):
    return Step(op=op, urn=f"urn:{name}", type="t:m:T", name=name, **kw)


def test_creates_updates_and_plain_deletes_need_no_approval():
    steps = [step(CREATE, "a"), step(UPDATE, "b", changed=("spec",)), step(DELETE, "c"), step("same", "d")]
    assert review.approvals(steps, [{"enforcement": "advisory", "policy": "p", "resource": "r", "message": "m"}]) == []


@pytest.mark.parametrize(("steps", "violations", "kind"), [
    ([step(REPLACE, "a", replace_keys=("metadata.name",))], [], "replace"),
    ([step(DELETE, "a", destructive="host 10.0.0.1: Uninstall k3s")], [], "host-delete"),
    ([step(DELETE, "a", error="marked for protection")], [], "refused"),
    ([], [{"enforcement": "mandatory", "policy": "p", "resource": "Namespace/x", "message": "no quota"}], "policy"),
])
def test_each_kind_needs_approval(steps, violations, kind):
    found = review.approvals(steps, violations)
    assert [a.kind for a in found] == [kind]
    lines, code = review.verdict_lines(steps, violations)
    assert code == 1 and lines[-1].startswith("NEEDS APPROVAL: 1 item(s)")
    text = review.change_markdown("t", steps, violations)
    assert "Needs a reviewer's approval: 1 item(s)" in text and f"**{kind}**" in text


def test_markdown_escapes_table_cells():
    text = review.change_markdown("t", [step(UPDATE, "a|b", note="x|y")])
    assert "`a\\|b`" in text and "x\\|y" in text


# --- the CLI: --from ----------------------------------------------------------------------------


def test_from_add_tenant_passes_and_writes_the_report(tmp_path):
    old, new = edited(tmp_path, "dev", _add_tenant)
    out = tmp_path / "report"
    done = plan("dev", "--from", old, "--config-file", new, "--report-only", "--out", out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-2].startswith("ok: only creates, in-place updates")
    text = (out / "report.md").read_text()
    assert "**No approval needed:**" in text
    assert "`k3s-docs-namespace`" in text
    assert "Policy pack on the new side: 0 mandatory" in text
    assert (out / "report.txt").read_text() in done.stdout


def test_from_node_removal_needs_approval(tmp_path):
    old, new = edited(tmp_path, "prod", _drop_w2)
    out = tmp_path / "report"
    done = plan("prod", "--from", old, "--config-file", new, "--report-only", "--out", out)
    assert done.returncode == 1, done.stdout + done.stderr
    text = (out / "report.md").read_text()
    assert "Needs a reviewer's approval" in text
    assert "**host-delete**: delete command:remote:Command k3s-cluster-w2-install runs on host 192.168.30.22" in text
    assert "**refused**" in text  # prod protects the install step


def test_report_only_needs_a_change_mode():
    done = plan("dev", "--report-only")
    assert done.returncode == 2
    assert "--report-only: only with --against GIT_REF or --from OLD_CONFIG_FILE" in done.stderr


def test_a_mandatory_violation_fails_report_only(monkeypatch, capsys):
    """Wiring: the pack's verdict on the new side reaches the exit code."""
    from tools.plan import build
    from tools.plan.modes import run_mode

    violation = {"enforcement": "mandatory", "policy": "namespace-quota-and-limits",
                 "resource": "Namespace/x", "urn": "urn:x", "message": "no quota"}
    monkeypatch.setattr(build, "stack_policy_violations", lambda *a: [violation])
    code = run_mode("dev", old_config=ROOT / "Pulumi.dev.yaml", report_only=True)
    assert code == 1
    assert "policy: namespace-quota-and-limits (mandatory)" in capsys.readouterr().out


# --- the CLI: --against (the MR gate) -------------------------------------------------------------


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return committed_copy(tmp_path_factory.mktemp("against"))


def _edit_stack_file(repo: Path, stack: str, edit) -> None:
    path = repo / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text())
    edit(doc["config"])
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_against_add_tenant_exit_0_node_removal_exit_1(repo, tmp_path):
    _edit_stack_file(repo, "dev", _add_tenant)
    done = plan("dev", "--against", "HEAD", "--report-only", "--out", tmp_path / "dev", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "17 create" in done.stdout and "0 replace, 0 delete" in done.stdout
    assert "**No approval needed:**" in (tmp_path / "dev" / "report.md").read_text()
    # the same change without --report-only is the refactor check: a create fails it
    assert plan("dev", "--against", "HEAD", cwd=repo).returncode == 1

    _edit_stack_file(repo, "prod", _drop_w2)
    done = plan("prod", "--against", "HEAD", "--report-only", "--out", tmp_path / "prod", cwd=repo)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "NEEDS APPROVAL" in done.stdout
    assert "k3s-cluster-w2-install runs on host" in (tmp_path / "prod" / "report.md").read_text()


# --- --out in every mode --------------------------------------------------------------------------


def test_fresh_preview_and_plan_write_report_md(tmp_path):
    done = plan("dev", "--fresh-preview", "--out", tmp_path / "fresh")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "**The engine would accept this preview.**" in (tmp_path / "fresh" / "report.md").read_text()
    assert (tmp_path / "fresh" / ".k3s-platform-plan").is_file()  # replaced only as a plan is
    done = plan("dev", "--out", tmp_path / "plan")
    assert done.returncode == 0, done.stdout + done.stderr
    text = (tmp_path / "plan" / "report.md").read_text()
    assert text.startswith("## Offline plan of dev") and "**Passed:**" in text


def test_check_modes_refuse_a_directory_that_is_not_a_plan_before_running(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    done = plan("dev", "--fresh-preview", "--out", tmp_path)
    assert done.returncode == 2
    assert "is not an earlier plan" in done.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"
