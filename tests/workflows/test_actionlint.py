"""The GitHub workflows pass actionlint (github.com/rhysd/actionlint at the version .ci/actionlint
pins, built from its Go module; shellcheck checks the `run:` scripts when it is installed).
Without the binary the module skips with the command that builds it, unless
K3SP_REQUIRE_ACTIONLINT=1 (set by .ci/run, which builds it first): then that is a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tools.paths import ROOT

BINARY = Path(subprocess.run([str(ROOT / ".ci" / "actionlint"), "path"], capture_output=True, text=True,
                             check=True).stdout.strip())

if not BINARY.is_file():
    why = f"actionlint not built at {BINARY} — run .ci/actionlint build (needs Go; .ci/run does it)"
    if os.environ.get("K3SP_REQUIRE_ACTIONLINT") == "1":
        pytest.fail(f"K3SP_REQUIRE_ACTIONLINT=1: {why}", pytrace=False)
    pytest.skip(why, allow_module_level=True)


def actionlint(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BINARY), "-no-color"], cwd=cwd, capture_output=True, text=True, timeout=120)


def copy_of_github_dir(tmp_path: Path) -> Path:
    """The repository's .github folder alone, in a git repository (actionlint finds the
    workflows and its settings from the repository root)."""
    shutil.copytree(ROOT / ".github", tmp_path / ".github")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    return tmp_path


def test_version_is_the_pin():
    done = subprocess.run([str(BINARY), "-version"], capture_output=True, text=True, check=True)
    pin = next(line.split("=", 1)[1].split()[0] for line in (ROOT / ".ci" / "actionlint").read_text().splitlines()
               if line.startswith("version="))
    assert done.stdout.splitlines()[0] == pin


def test_workflows_pass(tmp_path):
    done = actionlint(copy_of_github_dir(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_workflow_fails(tmp_path):
    """The check can fail: an unknown runner label and a misspelt matrix property are reported."""
    repo = copy_of_github_dir(tmp_path)
    workflow = repo / ".github" / "workflows" / "ci.yml"
    text = workflow.read_text()
    workflow.write_text(text.replace("runs-on: [self-hosted, lan]", "runs-on: [self-hosted, nas]", 1)
                        .replace("STACK: ${{ matrix.stack }}", "STACK: ${{ matrix.stak }}", 1))
    done = actionlint(repo)
    assert done.returncode == 1
    assert 'label "nas" is unknown' in done.stdout
    assert 'property "stak" is not defined' in done.stdout
