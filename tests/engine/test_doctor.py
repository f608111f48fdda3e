"""`./run doctor` against real sshd hosts (Debian-configured, in network namespaces) and the fake
pfSense API: all pass on good hosts; a host without passwordless sudo, a host answering with
another host key than pinned, and a router key without HAProxy privileges are each named."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from components.network import kinds
from tests.network.fake_pfrest import API_KEY, FakePfRest
from tools import doctor
from tools.paths import ROOT

from .router_stack import ca_of, self_signed


@pytest.fixture
def router(tmp_path):
    cert, key = self_signed(tmp_path / "tls")
    fake = FakePfRest().start(tls=(cert, key))
    fake.ca_pem = ca_of(cert)
    yield fake
    fake.stop()


def run_doctor(tmp_path, lan, router, capsys, edit=None):
    doc = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    cluster = doc["config"]["k3s-platform:cluster"]
    cluster["ssh"] = {"user": "root"}
    cluster["servers"][0]["hostKey"] = lan.hosts["lab1"].host_key_public
    doc["config"]["k3s-platform:router"].update({"apiUrl": router.https_url, "caBundle": router.ca_pem})
    if edit:
        edit(doc["config"])
    config = tmp_path / "dev.yaml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    key = tmp_path / "api-key"
    key.write_text(API_KEY)
    code = doctor.main(["dev", "--config-file", str(config), "--ssh-key", str(lan.user_key),
                        "--api-key-file", str(key)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_good_hosts_and_router_pass(tmp_path, lan, router, capsys):
    lan.add("lab1", "192.168.20.11")
    code, out = run_doctor(tmp_path, lan, router, capsys)
    assert code == 0, out
    for check in ("ssh", "sudo", "sftp", "clock", "ports"):
        assert f"ok   node lab1: {check} — " in out, out
    assert "host key as pinned" in out
    assert "ok   router: privileges" in out
    assert router.writes() == []  # read-only


def test_each_failure_names_the_node_or_the_key_and_the_fix(tmp_path, lan, router, capsys):
    host = lan.add("lab1", "192.168.20.11")
    (host.host.bin / "sudo").write_text("#!/bin/sh\necho 'sudo: a password is required' >&2\nexit 1\n")
    router.denied = {kinds.privilege_name(path, "GET") for path, _ in kinds.api_privileges() if "haproxy" in path}
    code, out = run_doctor(tmp_path, lan, router, capsys)
    assert code == 1, out
    assert "FAIL node lab1: sudo — `sudo -n true` failed for root (sudo: a password is required)" in out
    assert "NOPASSWD" in out
    [privileges] = [line for line in out.splitlines() if "router: privileges" in line]
    assert privileges.startswith("FAIL") and "api-v2-services-haproxy-backend-get" in privileges
    assert all("haproxy" in name for name in privileges.split("lacks ")[1].split(" — ")[0].split(", "))


def test_a_host_with_another_key_than_pinned_is_refused(tmp_path, lan, router, capsys):
    lan.add("lab1", "192.168.20.11")
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    pinned = " ".join(other.with_suffix(".pub").read_text().split()[:2])

    def pin_other(c):
        c["k3s-platform:cluster"]["servers"][0]["hostKey"] = pinned

    code, out = run_doctor(tmp_path, lan, router, capsys, pin_other)
    assert code == 1, out
    assert ("FAIL node lab1: ssh — 192.168.20.11 answers with another host key than "
            "cluster.servers[0].hostKey") in out


def test_a_wrong_router_key_is_named(tmp_path, lan, router, capsys):
    lan.add("lab1", "192.168.20.11")
    router.api_key = "another-key"
    code, out = run_doctor(tmp_path, lan, router, capsys)
    assert code == 1 and "FAIL router: api key — " in out and "refused the key (401)" in out
    assert API_KEY not in out
