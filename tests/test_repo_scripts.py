"""The repository's own shell entry points (./run, .ci/run) pass shellcheck too."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed (./run installs it)")
def test_entry_scripts_pass_shellcheck():
    result = subprocess.run(["shellcheck", str(ROOT / "run"), str(ROOT / ".ci" / "run")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_ci_calls_the_readme_test_command():
    readme_first_block = (ROOT / "README.md").read_text().split("```")[1]
    assert "./run test" in readme_first_block and "./run plan dev" in readme_first_block
    assert "./run test" in (ROOT / ".ci" / "run").read_text()
