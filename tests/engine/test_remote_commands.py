"""Every remote step of a node under the real command provider, over SSH to a host configured as
Debian ships sshd (AcceptEnv LANG LC_*): created, re-run only where the plan's change mode says
so, and deleted, with the rendered scripts running in the host sandbox."""

from __future__ import annotations

import yaml

from components.cluster import render
from components.cluster.k3s_cluster import K3sCluster
from components.config import read_stack_config
from tests.cluster.members import member
from tools.engine import inline
from tools.imitations.engine_rules import diff_runs
from tools.imitations.harness import run_stack
from tools.lab.certs import make_pki
from tools.paths import ROOT

from .conftest import assert_no_errors


def cluster_program() -> None:
    config, secrets = read_stack_config()
    K3sCluster("k3s-cluster", config.cluster, secrets.ssh_private_key)


def stack_file(path, edit=None):
    doc = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    doc["config"]["k3s-platform:cluster"]["ssh"] = {"user": "root"}
    if edit:
        edit(doc["config"])
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def engine_for(work, lan, config):
    return inline.EngineStack("dev", work, config_file=config, secrets={"sshPrivateKey": lan.private_key},
                              pack=False, program=cluster_program, echo=None)


def command_ops(run) -> dict[str, str]:
    return {s["name"]: s["op"] for s in run.steps() if s["type"].startswith("command:remote:")}


def test_node_steps_create_rerun_and_delete_over_stock_sshd(lan, engine_bins, work):
    host = lan.add("lab1", "192.168.20.11")
    host.host.flag("node-lab1")  # the stand-in k3s knows the Node object (drained on delete)

    config = stack_file(work / "dev.yaml")
    engine = engine_for(work, lan, config)
    first = engine.up()
    inline.write_events(first, work / "up-1.events.jsonl")
    assert_no_errors(first)
    ops = command_ops(first)
    assert set(ops) == {f"k3s-cluster-lab1-{s}" for s in ("prepare", "cas", "config", "install", "member", "labels",
                                                           "upgrade")}  # and no read of k3s.yaml
    assert set(ops.values()) == {"create"}
    calls = host.calls()
    assert any(c.startswith("installer version=v1.34.2+k3s1") for c in calls), calls
    # The program's CAs were on the host before k3s started, exactly as the state holds them.
    state = {r["urn"].rsplit("::", 1)[-1]: r for r in engine.export()["resources"]}
    server_ca = state["k3s-cluster-server-ca"]["outputs"]["certPem"]
    assert host.read(f"{render.K3S_TLS_DIR}/server-ca.crt") == server_ca.strip() + "\n"
    assert host.read(f"{render.K3S_TLS_DIR}/client-ca.key", ) is not None
    planned = next(r for r in run_stack("dev", config).registrations if r.name == "k3s-cluster-lab1-config")
    assert host.read("/etc/rancher/k3s/config.yaml") == planned.inputs["source"].text

    again = engine.up()
    assert_no_errors(again)
    assert set(command_ops(again).values()) == {"same"}
    assert host.calls() == []  # nothing ran on the host

    # A node label: the change mode's verdict and the engine's must agree, step by step.
    def label(cfg):
        cfg["k3s-platform:cluster"]["servers"][0]["labels"] = {"tier": "edge"}

    changed = stack_file(work / "dev-label.yaml", label)
    expected = {s.name: s.op for s in diff_runs(run_stack("dev", config), run_stack("dev", changed))
                if s.type.startswith("command:remote:")}
    engine = engine_for(work, lan, changed)
    update = engine.up()
    inline.write_events(update, work / "up-label.events.jsonl")
    assert_no_errors(update)
    assert command_ops(update) == expected
    assert "replace" not in command_ops(update).values()
    calls = host.calls()
    assert not [c for c in calls if c.startswith("uninstall") or c.startswith("systemctl restart")], calls
    assert "k3s kubectl label node lab1 --overwrite tier=edge" in calls  # the live Node, no restart

    # A patch upgrade runs the upgrade steps only: the provider's kubeconfig comes from the
    # cluster's CAs, not from a host, so the provider does not change at all.
    def upgrade(cfg):
        label(cfg)
        cfg["k3s-platform:cluster"]["k3sVersion"] = "v1.34.3+k3s1"

    engine = engine_for(work, lan, stack_file(work / "dev-upgrade.yaml", upgrade))
    preview = engine.preview()
    inline.write_events(preview, work / "preview-upgrade.events.jsonl")
    assert_no_errors(preview)
    provider_ops = [s["op"] for s in preview.steps() if s["type"] == "pulumi:providers:kubernetes"]
    assert provider_ops == ["same"], provider_ops
    assert not preview.ops("replace", "create-replacement")
    upgraded = engine.up()
    assert_no_errors(upgraded)
    assert any(c.startswith("installer version=v1.34.3+k3s1") for c in host.calls())

    # The cluster token is protected. The engine does not check that up front: a destroy deletes
    # what depends on the token first and then stops at it, so the token survives (seen here;
    # docs/operations.md says so).
    refused = engine.destroy()
    assert refused.error is not None and "protect" in refused.error
    assert any(r["urn"].endswith("::k3s-cluster-token") for r in engine.export()["resources"])
    inline.unprotect_all(engine)
    gone = engine.destroy()
    inline.write_events(gone, work / "destroy.events.jsonl")
    assert_no_errors(gone)
    assert set(command_ops(refused).values()) | set(command_ops(gone).values()) == {"delete"}
    assert [r["type"] for r in engine.export().get("resources", [])
            if not r["type"].startswith("pulumi:")] == []
    calls = host.calls()
    assert any(c.startswith("k3s kubectl drain") for c in calls), calls
    assert "uninstall k3s-uninstall.sh" in calls
    assert host.read("/etc/systemd/system/k3s.service") is None


def server_and_agent(lan):
    """lab1 (first server) and lab2 (agent) as SSH hosts; the stand-in installer on lab1 also
    writes what a first server writes: the CA-pinned join token."""
    server = lan.add("lab1", "192.168.20.11")
    agent = lan.add("lab2", "192.168.20.12")
    for h in (server, agent):
        h.host.flag("node-lab1")
        h.host.flag("node-lab2")
    (server.host.state / "installer.sh").write_text(
        (server.host.state / "installer.sh").read_text()
        + "\nmkdir -p /var/lib/rancher/k3s/server\nprintf 'K10%s::server:lab' \"$(printf %064d 0)\""
          " > /var/lib/rancher/k3s/server/token\n")
    return server, agent


def with_agent(cfg, **extra):
    cfg["k3s-platform:cluster"]["agents"] = [
        {"name": "lab2", "ip": "192.168.20.12", "mac": "52:54:00:20:00:12", **extra}]


def test_a_dead_agent_leaves_in_two_ups_without_dialing_its_host(lan, engine_bins, work):
    # The runbook's steps for a host that died (docs/operations.md, "Removing a dead node"):
    # mark it `dead`, `up`; remove it, `up`. Neither `up` dials the dead host.
    server, _agent = server_and_agent(lan)

    engine = engine_for(work, lan, stack_file(work / "two.yaml", with_agent))
    first = engine.up()
    assert_no_errors(first)
    assert "k3s-cluster-lab2-install" in command_ops(first)

    lan.stop("lab2")  # the host dies
    server.host.flag("notready-lab2")  # and the cluster sees its Node NotReady
    server.calls()

    engine = engine_for(work, lan, stack_file(work / "dead.yaml", lambda c: with_agent(c, dead=True)))
    mark = engine.up()
    inline.write_events(mark, work / "up-dead.events.jsonl")
    assert_no_errors(mark)
    assert set(command_ops(mark).values()) == {"same"}  # options only: nothing runs anywhere

    engine = engine_for(work, lan, stack_file(work / "gone.yaml"))
    gone = engine.up()
    inline.write_events(gone, work / "up-removed.events.jsonl")
    assert_no_errors(gone)
    ops = command_ops(gone)
    assert {n: o for n, o in ops.items() if "lab2" in n} == {
        f"k3s-cluster-lab2-{s}": "delete" for s in ("prepare", "config", "install", "member", "labels", "upgrade")}
    calls = server.calls()
    assert "k3s kubectl delete node lab2 --wait=true --timeout=120s" in calls, calls
    assert not [c for c in calls if "drain" in c]


def test_destroy_removes_the_first_servers_member_last(lan, engine_bins, work):
    server, _agent = server_and_agent(lan)

    engine = engine_for(work, lan, stack_file(work / "two.yaml", with_agent))
    assert_no_errors(engine.up())
    inline.unprotect_all(engine)
    server.calls()
    gone = engine.destroy()
    inline.write_events(gone, work / "destroy.events.jsonl")
    assert_no_errors(gone)
    deletes = [c for c in server.calls() if c.startswith("k3s kubectl delete node")]
    assert [c.split()[4] for c in deletes] == ["lab2", "lab1"], deletes


def test_a_host_with_cas_k3s_made_stops_before_the_install_and_adopt_takes_them(lan, engine_bins, work):
    # A cluster installed by an earlier version: k3s made its CAs at its first start.
    host = lan.add("lab1", "192.168.20.11")
    host.host.flag("node-lab1")
    theirs = {path: f"-----BEGIN CERTIFICATE-----\nk3s-made-{path}\n-----END CERTIFICATE-----\n"
              for path in render.ca_files()}
    pki = make_pki(work / "k3s-made-pki", "10.43.0.0/16")  # the CAs the program adopts sign for real
    theirs["server-ca.crt"] = theirs["client-ca.crt"] = pki.ca_cert.read_text()
    theirs["client-ca.key"] = (pki.ca_cert.parent / "ca.key").read_text()
    placed = host.host.run(render.place_cas_script(member("lab1", "192.168.20.11", first=True)),
                           stdin=render.ca_bundle(theirs))
    assert placed.rc == 0, placed.stderr
    host.calls()

    engine = engine_for(work, lan, stack_file(work / "dev.yaml"))
    refused = engine.up()
    assert refused.error is not None and "certificateAuthorities: adopt" in refused.error
    assert not [c for c in host.calls() if c.startswith("installer")]  # k3s never (re)installed
    assert host.read(f"{render.K3S_TLS_DIR}/server-ca.crt") == theirs["server-ca.crt"]

    def adopt(cfg):
        cfg["k3s-platform:cluster"]["certificateAuthorities"] = "adopt"

    inline.unprotect_all(engine)  # the CA resources the refused `up` made: the operator drops them
    engine = engine_for(work, lan, stack_file(work / "adopt.yaml", adopt))
    adopted = engine.up()
    inline.write_events(adopted, work / "up-adopt.events.jsonl")
    assert_no_errors(adopted)
    assert command_ops(adopted).get("k3s-cluster-cas-read") == "create"
    left = [r["urn"] for r in engine.export()["resources"] if r["urn"].endswith(("-cas", "-ca", "-ca-key"))]
    assert left == [], left  # the program's CAs and their placement are gone from the state
    assert host.read(f"{render.K3S_TLS_DIR}/client-ca.key") == theirs["client-ca.key"]  # untouched
    again = engine.up()
    assert_no_errors(again)
    assert set(command_ops(again).values()) == {"same"}  # read once, never again
