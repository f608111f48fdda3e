"""Issue 16: the plan on bad input and a dangerous --out. Nothing outside an earlier plan is
ever deleted; relative paths are the caller's; a plan is swapped in only when complete; a
stack without tenants plans; hostile config YAML is refused in one line.

Every run here starts Python in a scratch directory, never in the repository, so a
regression (an unchecked delete of `.`) can only ever remove scratch files."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.test_safe_yaml import alias_bomb
from tools.paths import ROOT
from tools.plan.outdir import MARKER, OutDirError, write_atomically


def _limit_memory() -> None:  # a regression must fail the test, not exhaust the machine
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def plan(*args, cwd: Path, caller: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("K3S_PLATFORM_CALLER_CWD", None)
    if caller is not None:
        env["K3S_PLATFORM_CALLER_CWD"] = str(caller)
    return subprocess.run([sys.executable, "-m", "tools.plan", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=timeout, preexec_fn=_limit_memory)


def _one_line_error(run: subprocess.CompletedProcess) -> str:
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and " — " in lines[0], run.stderr
    assert "placeholder-" not in run.stderr  # no secret, not even a placeholder
    return lines[0]


def _checkout(path: Path) -> Path:
    """A stand-in for a precious directory: a checkout with .git and docs."""
    (path / ".git").mkdir(parents=True)
    (path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (path / "docs").mkdir()
    (path / "docs" / "operations.md").write_text("# runbook\n")
    return path


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _config(tmp_path: Path, **changes) -> Path:
    doc = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    doc["config"].update(changes)
    path = tmp_path / "Pulumi.test.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


# -- 2. --out ------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [".", "docs", "..", ".git"])
def test_out_that_is_not_an_earlier_plan_is_refused_and_nothing_is_deleted(tmp_path, target):
    checkout = _checkout(tmp_path / "checkout")
    before = _tree(tmp_path)
    line = _one_line_error(plan("dev", "--out", target, cwd=checkout))
    assert line.startswith("plan: --out ") and ("not an earlier plan" in line or "contains" in line)
    assert _tree(tmp_path) == before


def test_out_that_is_a_file_or_a_symlink_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "x").write_text("keep me too")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert "not a directory" in _one_line_error(plan("dev", "--out", "notes.txt", cwd=tmp_path))
    assert "symbolic link" in _one_line_error(plan("dev", "--out", "link", cwd=tmp_path))
    assert (tmp_path / "notes.txt").read_text() == "keep me" and (tmp_path / "real" / "x").exists()


def test_relative_out_and_config_file_are_the_callers(tmp_path):
    """`./run` cds to the repository; the directory it was called from comes along."""
    caller, process_cwd = tmp_path / "caller", tmp_path / "elsewhere"
    caller.mkdir()
    process_cwd.mkdir()
    _config(caller).rename(caller / "my-stack.yaml")
    run = plan("dev", "--out", "my-plan", "--config-file", "my-stack.yaml", cwd=process_cwd, caller=caller)
    assert run.returncode == 0, run.stderr
    assert (caller / "my-plan" / "summary.json").is_file() and (caller / "my-plan" / MARKER).is_file()
    assert list(process_cwd.iterdir()) == []


def test_run_script_passes_the_callers_directory(tmp_path):
    """The real entry point, from another directory: the plan lands where it was asked for."""
    name = f"plan-from-caller-{os.getpid()}"
    try:
        run = subprocess.run(["bash", str(ROOT / "run"), "plan", "dev", "--out", name], cwd=tmp_path,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
        assert (tmp_path / name / "summary.json").is_file()
        assert not (ROOT / name).exists()
    finally:
        if (ROOT / name).is_dir() and (ROOT / name / "summary.json").is_file():
            import shutil
            shutil.rmtree(ROOT / name)  # only what a regression wrote there


def test_an_earlier_plan_is_replaced_whole_and_no_temporary_directory_is_left(tmp_path):
    first = plan("dev", "--out", "p", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (tmp_path / "p" / "stale.yaml").write_text("from an older plan")
    again = plan("dev", "--out", "p", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert not (tmp_path / "p" / "stale.yaml").exists() and (tmp_path / "p" / MARKER).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]


def test_a_failed_plan_leaves_the_earlier_plan_untouched(tmp_path):
    good = tmp_path / "p"
    assert plan("dev", "--out", good, cwd=tmp_path).returncode == 0
    before = _tree(good)
    bad = _config(tmp_path, **{"k3s-platform:cluster": {"servers": []}})
    assert plan("dev", "--out", good, "--config-file", bad, cwd=tmp_path).returncode == 2
    assert _tree(good) == before


def test_a_write_that_fails_part_way_never_replaces_the_earlier_plan(tmp_path):
    out = tmp_path / "p"
    write_atomically(out, lambda d: (d / "summary.json").write_text("good"))
    before = _tree(out)

    def half(d: Path) -> None:
        (d / "summary.json").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(out, half)
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "x").write_text("x")
    with pytest.raises(OutDirError, match="not an earlier plan"):
        write_atomically(tmp_path / "mine", lambda d: None)
    with pytest.raises(OutDirError, match="contains"):
        write_atomically(tmp_path, lambda d: None, protected=(tmp_path / "mine",))


# -- 3. no tenants -------------------------------------------------------------------------


def test_a_stack_without_tenants_plans(tmp_path):
    config = _config(tmp_path, **{"k3s-platform:tenants": [],
                                  "k3s-platform:people": [{"name": "alice", "role": "platops"}]})
    run = plan("dev", "--out", "p", "--config-file", config, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    rbac = (tmp_path / "p" / "rbac.md").read_text()
    assert "| PlatOps (platops) | (any namespace) | yes" in rbac and "AppOps" not in rbac.split("## Personas")[0]


# -- 14. hostile config YAML ---------------------------------------------------------------


def test_an_alias_bomb_config_is_refused_in_one_line(tmp_path):
    text = (ROOT / "Pulumi.dev.yaml").read_text().replace("config:\n", "config:\n  k3s-platform:extra:\n"
                                                          + "".join("    " + line + "\n"
                                                                    for line in alias_bomb().splitlines()), 1)
    config = tmp_path / "bomb.yaml"
    config.write_text(text)
    line = _one_line_error(plan("dev", "--out", "p", "--config-file", config, cwd=tmp_path, timeout=120))
    assert line.startswith(f"{config}:") and "expands to more than" in line
    assert not (tmp_path / "p").exists()


def test_a_duplicate_config_key_is_refused_naming_key_and_line(tmp_path):
    config = tmp_path / "dup.yaml"
    text = (ROOT / "Pulumi.dev.yaml").read_text()
    config.write_text(text + "  k3s-platform:domain: other.example.org\n")
    line = _one_line_error(plan("dev", "--config-file", config, "--out", "p", cwd=tmp_path))
    first = 1 + text.splitlines().index("  k3s-platform:domain: lab.home.example.org")
    assert f"duplicate key 'k3s-platform:domain' (first at line {first})" in line
    assert f"{config}:{len(text.splitlines()) + 1}:" in line


def test_a_fifo_config_file_is_named_as_such(tmp_path):
    fifo = tmp_path / "stack.yaml"
    os.mkfifo(fifo)
    line = _one_line_error(plan("dev", "--config-file", fifo, "--out", "p", cwd=tmp_path, timeout=60))
    assert f"{fifo}: not a regular file" in line


def test_an_unwritable_target_is_a_one_line_error(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    line = _one_line_error(plan("dev", "--out", "notes.txt/p", cwd=tmp_path))
    assert "cannot write" in line and (tmp_path / "notes.txt").read_text() == "keep me"
