"""Issue 27, cause 6: an interrupted tool ends with one line and rc 130, never a traceback,
and leaves no plan (or partial plan) behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools.cli import BROKEN_PIPE, INTERRUPTED, finish
from tools.paths import ROOT

SHARED = ROOT.parent / "shared"


def test_finish_turns_a_keyboard_interrupt_into_rc_130(capsys):
    def interrupted() -> int:
        raise KeyboardInterrupt

    assert finish("tool", interrupted) == INTERRUPTED
    assert capsys.readouterr().err.strip() == "tool: interrupted — nothing was written"
    assert finish("tool", lambda: 2) == 2


def test_finish_turns_a_closed_pipe_into_rc_141():
    def closed() -> int:
        raise BrokenPipeError

    saved = os.dup(sys.stdout.fileno())
    try:
        assert finish("tool", closed) == BROKEN_PIPE
    finally:
        os.dup2(saved, sys.stdout.fileno())
        os.close(saved)


def _interrupt(args: list[str], delay: float) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # A test runner may start us with SIGINT ignored; the tool must see it as a person's Ctrl-C.
    proc = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    return subprocess.CompletedProcess(args, *_wait(proc))


def _wait(proc: subprocess.Popen) -> tuple[int, str, str]:
    """(rc, stdout, stderr); a tool that hangs after the interrupt fails the test, killed."""
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("the tool did not exit within 120 s of Ctrl-C") from None
    return proc.returncode, out, err


def _orphaned_analyzers() -> set[int]:
    """Policy-pack servers of this repository whose parent is gone (reparented to init)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"pulumi.policy" in cmd and str(ROOT / "policies").encode() in cmd and ppid == 1:
            found.add(int(entry.name))
    return found


def _check_plan_interrupted(result, out: Path, tmp_path: Path) -> None:
    time.sleep(0.5)
    assert not _orphaned_analyzers(), "an interrupted run left the policy pack's server running"
    assert "Traceback" not in result.stderr, result.stderr
    if result.returncode == 0:  # finished before the signal: a whole plan
        assert (out / "summary.json").is_file()
    else:
        assert result.returncode == INTERRUPTED, result.stderr
        assert result.stderr.strip().endswith("plan: interrupted — nothing was written")
        assert not out.exists() and not list(tmp_path.glob(".plan.*"))


# From 0.5 s the interpreter has started (its own first ~50 ms, before any project code, are
# Python's: see tools/cli.py); the imports and the evaluation follow.
@pytest.mark.parametrize("delay", [0.5, 1.0, 1.6])
def test_interrupted_plan_leaves_nothing_and_no_traceback(tmp_path, delay):
    out = tmp_path / "plan"
    _check_plan_interrupted(_interrupt(["tools.plan", "prod", "--out", str(out)], delay), out, tmp_path)


@pytest.mark.parametrize("stage", ["stack evaluated", "objects validated", "policies checked", "files rendered"])
def test_interrupt_after_each_stage_leaves_nothing(tmp_path, stage):
    out = tmp_path / "plan"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "tools.plan", "prod", "--progress", "--out", str(out)],
                            cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(f"plan: {stage}:"):
            proc.send_signal(signal.SIGINT)
            break
    code, rest_out, rest_err = _wait(proc)
    result = subprocess.CompletedProcess(proc.args, code, rest_out, "".join(seen) + rest_err)
    assert any(line.startswith(f"plan: {stage}:") for line in seen), result.stderr
    _check_plan_interrupted(result, out, tmp_path)


@pytest.mark.skipif(not (SHARED / "conformance" / "pss").is_dir(), reason="../shared conformance fixtures absent")
@pytest.mark.parametrize("delay", [0.3, 1.5])
def test_interrupted_policycheck_has_no_traceback(delay):
    result = _interrupt(["tools.policycheck", str(SHARED / "conformance" / "pss")], delay)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 1, INTERRUPTED)


def test_leftovers_of_a_killed_plan_are_swept_and_a_moved_plan_restored(tmp_path):
    """Issue 27, cause 10: SIGKILL leaves staging directories that no later run removed."""
    from tools.plan.outdir import MARKER, sweep_leftovers, write_atomically

    out = tmp_path / "p"
    dead = 2 ** 22 + 12345  # above the usual pid_max: no such process
    half = tmp_path / f".p.new-{dead}-abc"
    half.mkdir()
    (half / "summary.json").write_text("{}")
    moved = tmp_path / f".p.old-{dead}-def"  # killed between the two renames of the swap
    moved.mkdir()
    (moved / MARKER).write_text("x")
    live = tmp_path / f".p.new-{os.getpid()}-ghi"  # a run still going (this process): kept
    live.mkdir()
    sweep_leftovers(out)
    assert not half.exists() and (out / MARKER).is_file() and not moved.exists() and live.exists()
    killed = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    again = tmp_path / f".p.new-{killed.stdout.strip()}-jkl"
    again.mkdir()
    write_atomically(out, lambda tmp: (tmp / "a").write_text("1"))
    assert not again.exists() and (out / "a").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f".p.new-{os.getpid()}-ghi", "p"])
