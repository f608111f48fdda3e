"""The k3s passthrough (`cluster.k3s`, a node's `k3s`), off-site etcd snapshots and
registries.yaml: what lands in config.yaml, what never lands in any rendered text, and what the
secret-files step does on a host (tests/cluster/host_sandbox.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml

from components.cluster import render
from components.config import EtcdS3, Registries, k3s_options
from tests.cluster.members import member
from tests.cluster.test_scripts_on_host import CLUSTER, CP1, install, restarts
from tools import k3s_flags
from tools.paths import ROOT

S3 = EtcdS3(endpoint="nas.home.example.org:9000", bucket="k3s-etcd", folder="prod")
# CLUSTER with snapshots on (every 6 hours, keep 12) and their off-site copy.
WITH_S3 = CLUSTER.model_copy(update={"etcd_snapshots": CLUSTER.etcd_snapshots.model_copy(update={"enabled": True, "s3": S3})})
S3_SECRET = "s3-secret-key-do-not-print"
REGISTRY_PASSWORD = "registry-password-do-not-print"


def test_passthrough_keys_follow_the_program_keys_and_lists_add_to_them():
    node = replace(CP1, options={"kubelet-arg": ["max-pods=200"], "disable": ["servicelb"],
                                 "tls-san": ["k8s.lan"], "flannel-backend": "wireguard-native",
                                 "kube-apiserver-arg": ["oidc-issuer-url=https://id.example.org"]})
    cfg = render.node_config(node, CLUSTER)
    plain = render.node_config(CP1, CLUSTER)
    assert list(cfg)[:len(plain)] == list(plain)  # the program's keys first, in their order
    assert cfg["disable"] == ["traefik", "servicelb"]
    assert cfg["tls-san"] == [*plain["tls-san"], "k8s.lan"]
    assert cfg["kube-apiserver-arg"] == [*plain["kube-apiserver-arg"], "oidc-issuer-url=https://id.example.org"]
    assert cfg["kubelet-arg"] == ["max-pods=200"] and cfg["flannel-backend"] == "wireguard-native"
    for key in set(plain) - {"disable", "tls-san", "kube-apiserver-arg"}:
        assert cfg[key] == plain[key], key


def test_a_program_key_that_slips_past_the_config_rules_is_a_bug_not_an_override():
    with pytest.raises(ValueError, match="program's own"):
        render.node_config(replace(CP1, options={"node-name": "other"}), CLUSTER)


def test_the_flag_table_is_of_the_pinned_k3s_minor():
    table = k3s_options.flag_table()
    for stack in ("dev", "prod"):
        pinned = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]["k3s-platform:cluster"]["k3sVersion"]
        assert pinned.split(".")[:2] == table["k3sVersion"].split(".")[:2], (
            f"Pulumi.{stack}.yaml pins {pinned}; regenerate components/config/k3s_flags.json with tools/k3s_flags.py")
    assert "8dac81b2" in table["source"]
    assert {"kubelet-arg", "flannel-backend", "etcd-s3-bucket", "kube-apiserver-arg"} <= set(table["server"])
    assert "disable" not in table["agent"] and "kubelet-arg" in table["agent"]


def test_every_key_the_program_renders_is_a_k3s_flag_and_owned():
    for node in (CP1, replace(CP1, first=False, server_url="https://k8s:6443")):
        for key in render.node_config(node, WITH_S3):
            assert key in k3s_options.flag_table()["server"], key
            if key in k3s_options.ADDITIVE_LISTS:
                continue
            assert (k3s_options.key_problem("server", key, None) or "").startswith(f"{key!r} is set by the program"), key


def test_the_flag_extractor_reads_named_inline_hidden_and_aliased_flags(tmp_path):
    (tmp_path / "agent.go").write_text('''
var ( NodeIPFlag = &cli.StringSliceFlag{ Name: "node-ip", Aliases: []string{"i"}, Usage: "x {y}" } )
func NewAgentCommand() *cli.Command { return &cli.Command{ Flags: []cli.Flag{
  NodeIPFlag,
  &cli.BoolFlag{ Name: "rootless", Hidden: true },
}}}''')
    (tmp_path / "server.go").write_text('''
var ServerFlags = []cli.Flag{
  NodeIPFlag,
  &cli.DurationFlag{ Name: "etcd-s3-timeout", Value: 5 * time.Minute },
}''')
    got = k3s_flags.table(tmp_path)
    assert [(f["name"], f["kind"], f["aliases"], f["hidden"]) for f in got["agent"]] == [
        ("node-ip", "list", ["i"], False), ("rootless", "bool", [], True)]
    assert [(f["name"], f["kind"]) for f in got["server"]] == [("node-ip", "list"), ("etcd-s3-timeout", "duration")]


def test_s3_settings_render_into_the_server_config_and_the_credentials_only_into_the_dropin():
    text = render.node_config_yaml(CP1, WITH_S3)
    cfg = yaml.safe_load(text)
    assert cfg["etcd-s3"] is True and cfg["etcd-s3-endpoint"] == "nas.home.example.org:9000"
    assert cfg["etcd-s3-bucket"] == "k3s-etcd" and cfg["etcd-s3-folder"] == "prod"
    assert "etcd-s3-access-key" not in cfg and "etcd-s3-secret-key" not in cfg
    dropin = yaml.safe_load(render.etcd_s3_secrets_yaml({"accessKey": "ak", "secretKey": S3_SECRET}))
    assert dropin == {"etcd-s3-access-key": "ak", "etcd-s3-secret-key": S3_SECRET}
    assert "etcd-s3" not in render.node_config(member("w1", "192.168.10.21", "agent", server_url="u"), WITH_S3)


REGISTRIES = Registries.model_validate({
    "mirrors": {"docker.io": {"endpoints": ["https://registry.home.example.org"]}},
    "configs": {"registry.home.example.org": {"auth": True}}})


def test_registries_yaml_carries_credentials_only_when_given_them():
    full = yaml.safe_load(render.registries_yaml(REGISTRIES, {"registry.home.example.org": {
        "username": "robot", "password": REGISTRY_PASSWORD}}))
    assert full["mirrors"] == {"docker.io": {"endpoint": ["https://registry.home.example.org"]}}
    assert full["configs"]["registry.home.example.org"]["auth"] == {"username": "robot", "password": REGISTRY_PASSWORD}
    shown = render.registries_yaml(REGISTRIES, None)
    assert REGISTRY_PASSWORD not in shown and "robot" not in shown and render.REDACTED in shown
    script = render.secret_files_script(CP1, ("registries.yaml",), shown)
    assert REGISTRY_PASSWORD not in script and "registry.home.example.org" in script


def _bundle(password: str) -> str:
    return render.ca_bundle({"registries.yaml": render.registries_yaml(
        REGISTRIES, {"registry.home.example.org": {"username": "robot", "password": password}}),
        "etcd-s3.yaml": render.etcd_s3_secrets_yaml({"accessKey": "ak", "secretKey": S3_SECRET})})


def test_secret_files_land_root_only_and_restart_k3s_only_when_they_change(host):
    names = ("registries.yaml", "etcd-s3.yaml")
    script = render.secret_files_script(CP1, names, render.registries_yaml(REGISTRIES, None))
    first = host.run(script, stdin=_bundle(REGISTRY_PASSWORD))  # before k3s: no restart
    assert first.rc == 0, first.stderr
    assert REGISTRY_PASSWORD in host.read(render.REGISTRIES_PATH)
    assert S3_SECRET in host.read(render.SECRETS_DROPIN_PATH)
    assert restarts(host.calls()) == []
    assert S3_SECRET not in first.stdout + first.stderr and REGISTRY_PASSWORD not in first.stdout + first.stderr
    assert install(host).rc == 0
    host.calls()
    same = host.run(script, stdin=_bundle(REGISTRY_PASSWORD))
    assert same.rc == 0 and restarts(host.calls()) == []
    rotated = host.run(script, stdin=_bundle("a-new-password"))
    assert rotated.rc == 0 and restarts(host.calls()) == ["systemctl restart k3s"]
    assert "a-new-password" in host.read(render.REGISTRIES_PATH)
    # S3 dropped from the config: its drop-in goes, k3s restarts.
    only = render.secret_files_script(CP1, ("registries.yaml",), "")
    gone = host.run(only, stdin=render.ca_bundle({"registries.yaml": "mirrors: {}\n"}))
    assert gone.rc == 0 and host.read(render.SECRETS_DROPIN_PATH) is None
    assert restarts(host.calls()) == ["systemctl restart k3s"]
