"""Issue 27, causes 6 and 7: stack files read as the Pulumi CLI reads them (tools/stack_file.py).

The CLI decodes with gopkg.in/yaml.v3: unquoted MACs and `no`/`off`/`y` are strings, a top-level
scalar is its text, a key is `namespace:name`, and a key Pulumi.yaml declares secret must be
encrypted. What it refuses, the plan refuses with rc 2 and a message naming the key (never the
secret, never a traceback); what it accepts, the plan accepts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from components.config import ConfigError
from tools.imitations.harness import ConfigFileError, load_config_file, stack_config
from tools.paths import ROOT

DEV = (ROOT / "Pulumi.dev.yaml").read_text()


def _write(tmp_path: Path, old: str, new: str, name: str = "stack.yaml") -> Path:
    assert old in DEV, old
    path = tmp_path / name
    path.write_text(DEV.replace(old, new, 1))
    return path


DEV_MAC = 'mac: "52:54:00:20:00:11"'


@pytest.mark.parametrize("mac", ["52:54:00:20:00:11", "00:11:22:33:44:55", "02:02:03:04:05:06",
                                 "aa:bb:cc:dd:ee:0f", "10:20:30:40:50:59"])
def test_unquoted_macs_are_text_as_for_the_cli(tmp_path, mac):
    # PyYAML (YAML 1.1) reads 00:11:22:33:44:55 as a base-60 integer; yaml.v3 has no such numbers.
    cfg = stack_config("dev", _write(tmp_path, DEV_MAC, f"mac: {mac}"))
    assert cfg.cluster.servers[0].mac == mac


@pytest.mark.parametrize("word", ["no", "off", "y", "n", "on", "yes", "No", "OFF"])
def test_yaml11_booleans_are_strings_as_for_the_cli(tmp_path, word):
    path = _write(tmp_path, "clients: [alice]", f"clients: [alice, {word}]")
    if word != word.lower():  # a valid string, then refused by the client-name grammar, by name
        with pytest.raises(ConfigError) as err:
            stack_config("dev", path)
        assert err.value.problems[0].startswith("router.vpn.clients: ")
        return
    assert stack_config("dev", path).router.vpn.clients == ("alice", word)


@pytest.mark.parametrize(("written", "seen"), [("no", "no"), ("2024-01-01", "2024-01-01"), ("1.50", "1.50"),
                                               ("'quoted'", "quoted"), ("!!binary aGVsbG8=", "hello"), ("", "")])
def test_top_level_scalars_are_their_text(tmp_path, written, seen):
    path = _write(tmp_path, "k3s-platform:domain: lab.home.example.org",
                  f"k3s-platform:domain: lab.home.example.org\n  k3s-platform:extra: {written}")
    values, _ = load_config_file("dev", path)
    assert values["k3s-platform:extra"] == seen


@pytest.mark.parametrize("key", ["~", "1", "yes", "true", "null", "domain", "a:b:c:d", "2024-01-01", "''"])
def test_keys_the_cli_cannot_parse_are_named(tmp_path, key):
    path = _write(tmp_path, "config:\n", f"config:\n  {key}: x\n")
    with pytest.raises(ConfigFileError) as err:
        load_config_file("dev", path)
    assert "is not of the form `<namespace>:<name>`" in str(err.value) and ":7:3:" in str(err.value)


SECRET = "hunter2-Sup3r-secret"


@pytest.mark.parametrize("key", ["pfsenseApiKey", "sshPrivateKey", "dashboardPassword"])
@pytest.mark.parametrize("value", [SECRET, f'"{SECRET}"', f"|\n    {SECRET}", f"{{plain: {SECRET}}}",
                                   f"[{SECRET}]", "", f"{{secure: {SECRET}, also: x}}"])
def test_plaintext_secrets_are_refused_with_the_fixing_command(tmp_path, key, value):
    path = _write(tmp_path, "config:\n", f"config:\n  k3s-platform:{key}: {value}\n")
    with pytest.raises(ConfigFileError) as err:
        load_config_file("dev", path)
    message = str(err.value)
    assert f"k3s-platform:{key}" in message and f"pulumi config set --secret {key}" in message
    assert "must be encrypted" in message and SECRET not in message


def test_encrypted_secrets_pass(tmp_path):
    path = _write(tmp_path, "config:\n", "config:\n  k3s-platform:pfsenseApiKey:\n    secure: v1:AAAA\n")
    values, secret = load_config_file("dev", path)
    assert "k3s-platform:pfsenseApiKey" in secret and values["k3s-platform:pfsenseApiKey"] != "v1:AAAA"


@pytest.mark.parametrize(("old", "new"), [
    ("appPorts: [8080]", "appPorts: [.nan]"),
    ("appPorts: [8080]", "appPorts: [-.Inf]"),
    ("appPorts: [8080]", "appPorts: [!!int eighty]"),
    ("appPorts: [8080]", "appPorts: [!!binary '*']"),
    ("sampleApp: {}", "sampleApp: {1: x}"),     # under a string-keyed map: encoding/json fails there
    ("sampleApp: {}", "sampleApp: {~: x}"),
    ("sampleApp: {}", "sampleApp: {yes: x, yes: y}"),
])
def test_values_the_cli_cannot_encode_are_named(tmp_path, old, new):
    with pytest.raises(ConfigFileError) as err:
        load_config_file("dev", _write(tmp_path, old, new))
    assert "k3s-platform:tenants" in str(err.value) or "duplicate" in str(err.value)


def test_a_file_without_config_is_refused(tmp_path):
    path = tmp_path / "stack.yaml"
    path.write_text(DEV.replace("config:\n", "confg:\n", 1))
    with pytest.raises(ConfigFileError, match="no `config:` map"):
        load_config_file("dev", path)


def _plan(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "tools.plan", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.parametrize(("old", "new"), [
    ("config:\n", "config:\n  ~: 1\n"),
    ("config:\n", "config:\n  yes: 1\n"),
    ("config:\n", "config:\n  1: 1\n"),
    ("- name: blog", "- name: 2024-01-01"),
    ("- name: blog", "- name: !!set {a}"),
    ("- name: blog", "- name: !!binary '@@'"),
    ("appPorts: [8080]", "appPorts: [.inf]"),
    ("appPorts: [8080]", "appPorts: [true]"),
    ("apiUrl: https://192.168.20.1", "apiUrl: https://192.168.20.1:99999"),
    ("apiUrl: https://192.168.20.1", "apiUrl: https://192.168.20.1:8x443"),
    ("apiUrl: https://192.168.20.1", "apiUrl: 'https://192.168.20.1:'"),
    ("sampleApp: {}", "sampleApp: {}\n      quota: {requestsCpu: 1e999999999}"),
    ("config:\n", f"config:\n  k3s-platform:dashboardPassword: {SECRET}\n"),
    ("config:\n", f"config:\n  k3s-platform:charts:\n    repository: https:ci:{SECRET}@charts.lan\n"),
    ("config:\n", f"config:\n  k3s-platform:charts:\n    repository: 'https://charts.lan/?token={SECRET}'\n"),
])
def test_plan_refuses_with_rc_2_and_no_traceback(tmp_path, old, new):
    out = tmp_path / "out"
    result = _plan("dev", "--config-file", _write(tmp_path, old, new), "--out", out)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and SECRET not in result.stderr + result.stdout
    assert not out.exists()


def test_errors_name_the_file_given_with_config_file(tmp_path):
    """Issue 27, cause 10: not Pulumi.<stack>.yaml when another file was read."""
    path = _write(tmp_path, "apiUrl: https://192.168.20.1", "apiUrl: https://192.168.20.1:0", name="mine.yaml")
    result = _plan("dev", "--config-file", path, "--out", tmp_path / "out")
    assert result.returncode == 2 and f"invalid configuration in {path}" in result.stderr
    assert "Pulumi.dev.yaml" not in result.stderr


@pytest.mark.parametrize("huge", ["a" * 200_000, "x." * 50_000 + "org", "\u00e9" * 100_000], ids=["letters", "labels", "accents"])
def test_huge_values_are_not_echoed_in_full(tmp_path, huge):
    path = _write(tmp_path, "k3s-platform:domain: lab.home.example.org", f"k3s-platform:domain: '{huge}'")
    result = _plan("dev", "--config-file", path, "--out", tmp_path / "out")
    assert result.returncode == 2 and "domain: " in result.stderr and len(result.stderr) < 3000, len(result.stderr)


def test_a_widening_egress_is_planned_with_a_warning_naming_the_key(tmp_path):
    """Issue 27, cause 9: allowed, but said — tenant egress to the router's GUI and the pod range."""
    out = tmp_path / "out"
    path = _write(tmp_path, "sampleApp: {}", "sampleApp: {}\n      egress:\n        - {cidr: 192.168.20.1/32, ports: [443]}"
                  "\n        - {cidr: 10.42.0.0/16, ports: [8080]}")
    result = _plan("dev", "--config-file", path, "--out", out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning: tenants[0].egress[0].cidr: " in result.stderr and "web GUI" in result.stderr
    assert "warning: tenants[0].egress[1].cidr: " in result.stderr and "pod range" in result.stderr
