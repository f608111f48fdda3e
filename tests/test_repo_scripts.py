"""The repository's own shell entry points (./run and the shell scripts in .ci/) pass shellcheck too."""

import shutil
import subprocess

import pytest

from tools.paths import ROOT


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed (./run installs it)")
def test_entry_scripts_pass_shellcheck():
    ci_scripts = [p for p in sorted((ROOT / ".ci").iterdir()) if p.read_text().startswith("#!/usr/bin/env bash")]
    assert ROOT / ".ci" / "run" in ci_scripts and ROOT / ".ci" / "mr-gate" in ci_scripts
    result = subprocess.run(["shellcheck", str(ROOT / "run"), *map(str, ci_scripts)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_ci_calls_the_readme_test_command():
    readme_first_block = (ROOT / "README.md").read_text().split("```")[1]
    assert "./run test" in readme_first_block and "./run plan dev" in readme_first_block
    assert "./run test" in (ROOT / ".ci" / "run").read_text()
