"""`./run` says what it installs before it installs it, and says nothing when nothing changes.
Run in a copy of the script with a stand-in `python3` (no network, no real venv)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tools.paths import ROOT

FAKE_PYTHON = """#!/bin/sh
# python3 -m venv venv: make a venv whose python records its calls
if [ "$1" = -m ] && [ "$2" = venv ]; then
  mkdir -p "$3/bin"
  printf '#!/bin/sh\\necho "$*" >> "%s/calls"\\n' "$PWD" > "$3/bin/python"
  chmod +x "$3/bin/python"
fi
"""


def copy_of_run(tmp_path: Path) -> Path:
    work = tmp_path / "repo"
    (work / "policies").mkdir(parents=True)
    for name in ("run", "requirements.txt", "requirements-dev.txt", "policies/requirements.txt"):
        shutil.copy(ROOT / name, work / name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(FAKE_PYTHON)
    (bin_dir / "python3").chmod(0o755)
    return work


def run(work: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    return subprocess.run(["./run", "kubeconfig", "dev", "alice"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=60)


def test_first_use_names_what_it_installs_and_a_second_says_nothing(tmp_path):
    work = copy_of_run(tmp_path)
    pins = sum(1 for f in ("requirements.txt", "requirements-dev.txt", "policies/requirements.txt")
               for line in (ROOT / f).read_text().splitlines() if "==" in line and not line.startswith("#"))
    first = run(work, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "run: creating ./venv" in first.stderr
    assert f"run: installing {pins} pinned packages and their dependencies into ./venv from PyPI" in first.stderr
    calls = (work / "calls").read_text().splitlines()
    assert calls[0] == "-m pip install -q --disable-pip-version-check -r requirements-dev.txt"
    second = run(work, tmp_path)
    assert second.returncode == 0 and "run:" not in second.stderr, second.stderr
    assert len((work / "calls").read_text().splitlines()) == len(calls) + 1  # only the task itself
