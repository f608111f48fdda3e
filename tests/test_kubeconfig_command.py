"""`./run kubeconfig <stack> <person>`: reads the secret output with the Pulumi CLI, writes the
person's kubeconfig readable by its owner only, prints it only when asked, and names what is
wrong otherwise — never a byte of any kubeconfig in an error."""

from __future__ import annotations

import json
import stat

import pytest

from tools import kubeconfig

KUBECONFIGS = {"alice": "apiVersion: v1\n# alice-key-material\n", "bob": "apiVersion: v1\n# bob-key-material\n"}


@pytest.fixture
def fake_pulumi(tmp_path):
    """A `pulumi` that answers `stack output peopleKubeconfigs --show-secrets --json` like the CLI."""
    script = tmp_path / "pulumi"
    calls = tmp_path / "calls"
    script.write_text(f"""#!/bin/sh
echo "$*" >> {calls}
[ -f {tmp_path}/fail ] && {{ echo "error: no stack named 'nope' found" >&2; exit 255; }}
cat {tmp_path}/answer
""")
    script.chmod(0o755)
    (tmp_path / "answer").write_text(json.dumps(KUBECONFIGS))
    return script


def run(fake_pulumi, *args):
    return kubeconfig.main(["--pulumi", str(fake_pulumi), "--cwd", str(fake_pulumi.parent), *args])


def test_writes_the_persons_kubeconfig_with_mode_0600(fake_pulumi, tmp_path, capsys):
    out = tmp_path / "out" / "bob.yaml"
    assert run(fake_pulumi, "dev", "bob", "--out", str(out)) == 0
    assert out.read_text() == KUBECONFIGS["bob"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    printed = capsys.readouterr()
    assert "key-material" not in printed.out + printed.err
    calls = (tmp_path / "calls").read_text()
    assert "stack output peopleKubeconfigs --show-secrets --json --stack dev" in calls


def test_an_existing_file_is_replaced_and_tightened(fake_pulumi, tmp_path):
    out = tmp_path / "bob.yaml"
    out.write_text("old")
    out.chmod(0o644)
    assert run(fake_pulumi, "dev", "bob", "--out", str(out)) == 0
    assert out.read_text() == KUBECONFIGS["bob"] and stat.S_IMODE(out.stat().st_mode) == 0o600


def test_stdout_only_when_asked(fake_pulumi, capsys):
    assert run(fake_pulumi, "dev", "alice", "--stdout") == 0
    assert capsys.readouterr().out == KUBECONFIGS["alice"]


def test_unknown_person_names_the_people_and_writes_nothing(fake_pulumi, tmp_path, capsys):
    out = tmp_path / "x.yaml"
    assert run(fake_pulumi, "dev", "mallory", "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert "'mallory' is not in people of stack 'dev'" in err and "alice, bob" in err
    assert "key-material" not in err and not out.exists()


def test_cli_failure_is_a_named_error(fake_pulumi, tmp_path, capsys):
    (tmp_path / "fail").touch()
    assert run(fake_pulumi, "nope", "bob") == 2
    assert "no stack named 'nope'" in capsys.readouterr().err


def test_a_stack_without_the_output_says_what_to_do(fake_pulumi, tmp_path, capsys):
    (tmp_path / "answer").write_text("null")
    assert run(fake_pulumi, "dev", "bob") == 2
    assert "has no peopleKubeconfigs output" in capsys.readouterr().err


def test_missing_cli_is_a_named_error(tmp_path, capsys):
    assert kubeconfig.main(["--pulumi", str(tmp_path / "absent"), "dev", "bob"]) == 2
    assert "no Pulumi CLI" in capsys.readouterr().err
