"""Off-site snapshot credentials and registry passwords reach the nodes on a secret stdin and
appear nowhere in the plan: not in config.yaml, not in any script, not in the plan's files or
its output."""

from __future__ import annotations

from pathlib import Path

import yaml
from pulumi.runtime import rpc

from tools.imitations.harness import run_stack
from tools.paths import ROOT
from tools.plan.__main__ import main as plan_main

ACCESS, SECRET, PASSWORD = "AKIA-test-access-key-0001", "s3-secret-key-0002", "registry-password-0003"


def stack_file(tmp_path: Path) -> Path:
    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    cfg = doc["config"]
    cfg["k3s-platform:cluster"]["registries"] = {
        "mirrors": {"docker.io": {"endpoints": ["https://registry.home.example.org"]}},
        "configs": {"registry.home.example.org": {"auth": True}}}
    cfg["k3s-platform:etcdS3Credentials"] = {"accessKey": ACCESS, "secretKey": SECRET}
    cfg["k3s-platform:registryAuth"] = {"registry.home.example.org": {"username": "robot", "password": PASSWORD}}
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_credentials_go_on_a_secret_stdin_only(tmp_path):
    run = run_stack("prod", stack_file(tmp_path))
    steps = {r.name: r for r in run.registrations if r.name.endswith("-secret-files")}
    assert sorted(steps) == [f"k3s-cluster-{n}-secret-files" for n in ("cp1", "cp2", "cp3", "w1", "w2")]
    for name, reg in steps.items():
        assert rpc.is_rpc_secret(reg.inputs["stdin"]), name
        bundle = rpc.unwrap_rpc_secret(reg.inputs["stdin"])
        assert PASSWORD in bundle  # every node pulls through the registry
        assert (SECRET in bundle) == ("-cp" in name), name  # S3 credentials on servers only
        assert reg.inputs["logging"] != "stdoutAndStderr"
        for key in ("create", "update", "delete"):
            assert not {ACCESS, SECRET, PASSWORD} & set(str(reg.inputs[key]).split()), (name, key)
    install = next(r for r in run.registrations if r.name == "k3s-cluster-cp2-install")
    assert any(d.endswith("k3s-cluster-cp2-secret-files") for d in install.dependencies)


def test_the_plan_never_prints_them(tmp_path, capsys):
    out = tmp_path / "out"
    assert plan_main(["prod", "--out", str(out), "--config-file", str(stack_file(tmp_path))]) == 0
    printed = capsys.readouterr()
    texts = [printed.out, printed.err] + [p.read_text(errors="replace") for p in out.rglob("*") if p.is_file()]
    for value in (ACCESS, SECRET, PASSWORD):
        assert not any(value in t for t in texts), value
    config = yaml.safe_load((out / "nodes" / "cp1" / "config.yaml").read_text())
    assert config["etcd-s3-bucket"] == "k3s-etcd"  # the settings themselves are there
