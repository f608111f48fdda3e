"""Issue 27, cause 1: a value that reaches a node script is one shell word, whatever it holds.

The config's grammars refuse these names; the renderers must not rely on that. Every script is
rendered from hostile names (a line break that starts a new command, spaces, quotes, command
substitutions, globs, an option-like name), shellchecked, and the ones that name the node in
commands are run with stand-ins for `sudo` and `sleep` that record their arguments: the name
must arrive as exactly one argument, and nothing injected may run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from components.cluster import render
from components.config import Installer, Member, Role
from tests.cluster.members import cluster, member

HOSTILE = [
    "cp1\ntouch PWNED",
    "cp1; touch PWNED",
    "cp 1",
    "$(touch PWNED)",
    "`touch PWNED`",
    "x'; touch PWNED; '",
    'x"; touch PWNED; "',
    "*",
    "-rf",
    "cp1\r\n#",
    "a\\",
]
CLUSTER = cluster(servers=3, api_hostname="k8s.example.org", installer={"sha256": "0" * 64})
# The config refuses this script path; built without validation, the renderer must quote it anyway.
AIRGAP = cluster(api_hostname="k8s.example.org").model_copy(
    update={"installer": Installer.model_construct(source="airgap", sha256=None, script_path="/opt/k 3/$(x).sh")})


def _node(name: str, role: Role = "server") -> Member:
    return member(name, "192.168.10.11", role, labels={"example.org/tier": "a b"},
                  taints=("dedicated=x:NoSchedule",))


def _scripts(name: str) -> dict[str, str]:
    node = _node(name)
    config = render.node_config_yaml(node, CLUSTER)
    return {
        "install": render.install_script(node, CLUSTER, config),
        "install-airgap": render.install_script(node, AIRGAP, config),
        "upgrade": render.upgrade_script(node, CLUSTER),
        "uninstall": render.uninstall_script(_node(name, "agent")),
        "member-ready": render.member_ready_script(node),
        "member-remove": render.member_remove_script(node),
        "labels": render.labels_script(node),
        "prepare": render.prepare_script(name),
        "place-cas": render.place_cas_script(node),
        "read-cas": render.read_cas_script(),
        "rotate-token": render.rotate_token_script(node),
        "secret-files": render.secret_files_script(node, tuple(render.SECRET_FILES), f"mirrors:\n  {name}: x\n"),
        "remove-secret-files": render.remove_secret_files_script(_node(name, "agent")),
    }


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed (./run installs it)")
@pytest.mark.parametrize("name", HOSTILE, ids=repr)
def test_scripts_from_hostile_names_pass_shellcheck(name, tmp_path):
    paths = []
    for role, text in _scripts(name).items():
        path = tmp_path / f"{role}.sh"
        path.write_text(text)
        paths.append(str(path))
    # SC2016 and SC1003 (info) say `$(...)` and `\\` are literal in single quotes: here that
    # is the point.
    result = subprocess.run(["shellcheck", "--shell=sh", "--exclude=SC2016,SC1003", *paths], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("name", HOSTILE, ids=repr)
def test_config_comment_lines_hold_no_line_break(name):
    header = render.node_config_yaml(_node(name), CLUSTER).splitlines()[0]
    assert header.startswith("# ") and "node-name" not in header


def _run(script: str, tmp_path: Path) -> tuple[list[list[str]], str]:
    """Run `script` with recording stand-ins; (the argument lists sudo got, stdout)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "sudo.log"
    # Each call: its arguments NUL-separated, then a record separator. Every command "fails",
    # so the scripts take their "nothing to do" paths and no real command ever runs.
    (bin_dir / "sudo").write_text(f"#!/bin/sh\nprintf '%s\\0' \"$@\" >> '{log}'\nprintf '\\036' >> '{log}'\nexit 1\n")
    (bin_dir / "sleep").write_text("#!/bin/sh\nexit 0\n")
    for stub in ("sudo", "sleep"):
        (bin_dir / stub).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run(["sh", "-c", script], cwd=tmp_path, env=env, capture_output=True, timeout=60)
    calls = [c.split("\0")[:-1] for c in log.read_bytes().decode().split("\036")[:-1]] if log.exists() else []
    return calls, (result.stdout + result.stderr).decode()  # bytes: a "\r\n" stays as it is


@pytest.mark.parametrize("name", HOSTILE, ids=repr)
def test_member_and_uninstall_scripts_pass_the_name_as_one_argument(name, tmp_path):
    for script in (render.member_remove_script(_node(name)), render.member_ready_script(_node(name)),
                   render.uninstall_script(_node(name))):
        calls, output = _run(script, tmp_path)
        assert not (tmp_path / "PWNED").exists(), "an injected command ran"
        kubectl = [c for c in calls if c[:3] == ["k3s", "kubectl", "get"]]
        for call in kubectl:
            assert call[3:5] == ["node", name], call
        assert name in output  # the messages show the name as given
    assert kubectl or calls  # the scripts did reach their commands


@pytest.mark.parametrize("name", HOSTILE, ids=repr)
def test_token_rotation_passes_the_name_as_text_only(name, tmp_path):
    # The stand-in sudo fails every command: the script sees no k3s and stops there, having
    # named the node; nothing injected through the name may have run on the way.
    script = render.rotate_token_script(_node(name))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sudo").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "sudo").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run(["sh", "-c", script], cwd=tmp_path, env=env, input=b"old\nnew\n",
                            capture_output=True, timeout=60)
    assert not (tmp_path / "PWNED").exists(), "an injected command ran"
    assert result.returncode == 0, result.stderr
    assert f"k3s on {name} is not installed yet".encode() in result.stdout
