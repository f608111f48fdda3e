"""Stack config files as the offline plan reads them: every mistake ends in exit 2 and a
message naming the place, never a traceback (issue 16, items 4 and 7)."""

from pathlib import Path

import pytest

from tests.config.fixtures import INVALID, expected, write_stack_file
from tools.paths import ROOT
from tools.plan.__main__ import main as plan_main

VALID_DEV = ROOT / "Pulumi.dev.yaml"


def run_plan(config_file: Path, tmp_path: Path, capsys) -> tuple[int, str]:
    code = plan_main(["prod", "--out", str(tmp_path / "out"), "--config-file", str(config_file)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_every_invalid_fixture_stops_the_plan_with_exit_2(path, tmp_path, capsys):
    code, output = run_plan(write_stack_file(path, tmp_path), tmp_path, capsys)
    assert code == 2, output
    assert expected(path) in output
    assert "Traceback" not in output
    assert not (tmp_path / "out").exists()


def test_a_file_that_is_not_utf8_is_named(tmp_path, capsys):
    bad = tmp_path / "Pulumi.prod.yaml"
    bad.write_bytes(VALID_DEV.read_bytes().replace(b"lab.home.example.org\n", "lab.h\u00f6me.org\n".encode("latin-1"), 1))
    code, output = run_plan(bad, tmp_path, capsys)
    assert code == 2
    assert f"{bad}: not UTF-8 (byte 0xf6 on line " in output and "save the file as UTF-8" in output
    assert "Traceback" not in output


def test_a_yaml_syntax_error_names_line_and_column(tmp_path, capsys):
    bad = tmp_path / "Pulumi.prod.yaml"
    bad.write_text("config:\n  k3s-platform:domain: a.example.org\n  k3s-platform:network: [unclosed\n")
    code, output = run_plan(bad, tmp_path, capsys)
    assert code == 2
    assert f"{bad}:4:1: not valid YAML: " in output
    assert "Traceback" not in output


def test_duplicate_keys_are_refused_with_their_line(tmp_path, capsys):
    bad = tmp_path / "Pulumi.prod.yaml"
    text = VALID_DEV.read_text()
    bad.write_text(text + "  k3s-platform:domain: other.example.org\n")
    code, output = run_plan(bad, tmp_path, capsys)
    assert code == 2 and f"{bad}:" in output and "duplicate key 'k3s-platform:domain'" in output
