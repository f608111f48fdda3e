"""The cluster's CAs: the placement script on a sandboxed host (tests/cluster/host_sandbox.py),
the bundle format it reads, the adopted-CA read, and the kubeconfigs built from them."""

from __future__ import annotations

import base64
import hashlib

import pytest
import yaml

from components.cluster import render
from tests.cluster.members import member

CP1 = member("cp1", "192.168.10.11", first=True)


def fake_files(tag: str = "a") -> dict[str, str]:
    """Stand-in PEM texts, one per file k3s reads (the script compares bytes, never parses)."""
    return {path: f"-----BEGIN X-----\n{hashlib.sha256((tag + path).encode()).hexdigest()}\n-----END X-----\n"
            for path in render.ca_files()}


def tls(path: str) -> str:
    return f"{render.K3S_TLS_DIR}/{path}"


def test_a_fresh_server_gets_every_file_root_only(host):
    files = fake_files()
    result = host.run(render.place_cas_script(CP1), stdin=render.ca_bundle(files))
    assert result.rc == 0, result.stderr
    for path, pem in files.items():
        assert host.read(tls(path)) == pem, path
    modes = host.run(f"stat -c '%a %U' {tls('client-ca.key')} {tls('etcd/peer-ca.key')} {tls('service.key')}\n")
    assert modes.stdout.split("\n")[:3] == ["600 root"] * 3
    # The keys come on stdin only: nothing of them in the script or its output.
    secret = files["client-ca.key"].splitlines()[1]
    assert secret not in render.place_cas_script(CP1) and secret not in result.stdout + result.stderr


def test_the_same_cas_again_change_nothing(host):
    files = fake_files()
    assert host.run(render.place_cas_script(CP1), stdin=render.ca_bundle(files)).rc == 0
    again = host.run(render.place_cas_script(CP1), stdin=render.ca_bundle(files))
    assert again.rc == 0 and "in place" in again.stdout


def test_a_server_with_k3s_made_cas_is_refused_and_left_alone(host):
    theirs = fake_files("k3s")
    assert host.run(render.place_cas_script(CP1), stdin=render.ca_bundle(theirs)).rc == 0
    ours = fake_files("program")
    result = host.run(render.place_cas_script(CP1), stdin=render.ca_bundle(ours))
    assert result.rc == 1
    assert "certificateAuthorities: adopt" in result.stderr and "nothing was changed" in result.stderr
    for path, pem in theirs.items():
        assert host.read(tls(path)) == pem, f"{path} was overwritten"


def test_one_conflicting_file_writes_none_of_the_missing(host):
    ours = fake_files()
    host.run(f"mkdir -p {render.K3S_TLS_DIR}\ncat > {tls('server-ca.crt')}\n", stdin="other\n")
    result = host.run(render.place_cas_script(CP1), stdin=render.ca_bundle(ours))
    assert result.rc == 1 and "server-ca.crt" in result.stderr
    assert host.read(tls("client-ca.key")) is None  # nothing half-applied


def test_an_incomplete_bundle_is_refused(host):
    files = fake_files()
    del files["service.key"]
    result = host.run(render.place_cas_script(CP1), stdin=render.ca_bundle(files))
    assert result.rc == 1 and "service.key missing" in result.stderr
    assert host.read(tls("server-ca.crt")) is None


def test_the_adopt_read_returns_what_k3s_made(host):
    theirs = fake_files("k3s")
    host.run(render.place_cas_script(CP1), stdin=render.ca_bundle(theirs))
    result = host.run(render.read_cas_script())
    assert result.rc == 0, result.stderr
    assert render.parse_ca_bundle(result.stdout, render.ADOPTED_FILES) == {
        f: theirs[f] for f in render.ADOPTED_FILES}


def test_a_bundle_missing_a_file_names_it():
    text = render.ca_bundle({"server-ca.crt": "A\n", "client-ca.crt": "B\n"})
    with pytest.raises(ValueError, match="client-ca.key"):
        render.parse_ca_bundle(text, render.ADOPTED_FILES)
    with pytest.raises(ValueError, match="server-ca.crt"):
        render.parse_ca_bundle("", render.ADOPTED_FILES)


def test_kubeconfig_names_the_endpoint_ca_and_user():
    text = render.kubeconfig_yaml("k3s-cluster", "https://k8s.example.org:6443", "CA\n", "CERT\n", "KEY\n",
                                  user="bob", namespace="blog")
    doc = yaml.safe_load(text)
    cluster = doc["clusters"][0]["cluster"]
    assert cluster["server"] == "https://k8s.example.org:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]).decode() == "CA\n"
    user = doc["users"][0]["user"]
    assert base64.b64decode(user["client-certificate-data"]).decode() == "CERT\n"
    assert base64.b64decode(user["client-key-data"]).decode() == "KEY\n"
    context = next(c for c in doc["contexts"] if c["name"] == doc["current-context"])["context"]
    assert context == {"cluster": "k3s-cluster", "user": "bob", "namespace": "blog"}
