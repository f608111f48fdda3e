"""`./run plan <stack> --against GIT_REF`: the registrations dump round-trips, the program at a
revision runs from an exported tree, and a refactor that moves a resource fails."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools.imitations.engine_rules import SAME, diff_runs
from tools.imitations.harness import run_stack
from tools.paths import ROOT
from tools.plan import against


def plan(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "tools.plan", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True)


def test_dump_round_trips_to_the_same_steps(tmp_path):
    run = run_stack("prod")
    against.dump_run(run, tmp_path / "prod.json")
    loaded = against.load_run(tmp_path / "prod.json")
    assert [r.urn for r in loaded.registrations] == [r.urn for r in run.registrations]
    steps = diff_runs(loaded, run)
    assert {s.op for s in steps} == {SAME}, [s for s in steps if s.op != SAME][:3]


def test_hidden_dump_flag_writes_the_registrations(tmp_path):
    done = plan("dev", "--dump-registrations", tmp_path / "dev.json")
    assert done.returncode == 0, done.stderr
    assert against.load_run(tmp_path / "dev.json").registrations
    assert "--dump-registrations" not in plan("--help").stdout


def committed_copy(tmp_path: Path) -> Path:
    """The working tree's files (tracked and new, not ignored) committed in a fresh repository:
    there, HEAD and the working tree are the same program."""
    repo = tmp_path / "copy"
    files = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "copy"]):
        subprocess.run(["git", "-C", str(repo), *cmd], check=True, env=env)
    return repo


def test_against_head_moves_nothing(tmp_path):
    done = plan("dev", "--against", "HEAD", cwd=committed_copy(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 replace, 0 delete, 0 create" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1].startswith("ok: no resource")


def test_unknown_ref_is_a_clear_error():
    done = plan("dev", "--against", "no-such-ref-c15")
    assert done.returncode == 2
    assert "--against no-such-ref-c15: not a commit" in done.stderr


@pytest.mark.parametrize("use_flag", [True, False])
def test_a_moved_resource_fails(tmp_path, use_flag):
    """A throwaway repository whose second commit renames a stack's admin CIDR: the old
    revision is dumped (with or without the flag in its tools) and the delete is reported."""
    repo = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(repo)], check=True)
    if not use_flag:  # a revision from before `--dump-registrations`
        main = repo / "tools" / "plan" / "__main__.py"
        main.write_text(main.read_text().replace("dump-registrations", "dump-regs-gone"))
        subprocess.run(["git", "-C", repo, "commit", "--allow-empty", "-qam", "old"], check=True,
                       env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})
    doc = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    doc["config"]["k3s-platform:network"]["adminCidrs"].append("192.168.99.0/24")
    doc["config"]["k3s-platform:network"]["allowPublicAdmin"] = True  # outside the LAN: opted in
    config = tmp_path / "Pulumi.dev.yaml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    with against.exported_tree("HEAD", repo) as tree:
        assert (tree / "tools" / "plan" / "__main__.py").is_file()
        old = against.run_at(tree, "dev", None)
    new = run_stack("dev", config)
    ops = {s.op for s in diff_runs(old, new)}
    assert "create" in ops
