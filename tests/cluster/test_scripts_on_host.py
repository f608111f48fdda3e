"""The node scripts run for real on a sandboxed host (tests/cluster/host_sandbox.py): what they
*do* on day 0 and day 2 — install once, restart only on a real change, never report ready
without looking, refuse downgrades, and uninstall only a host the node still owns."""

from __future__ import annotations

from dataclasses import replace

from components.cluster import render
from components.config import Installer
from tests.cluster.members import cluster, member

CLUSTER = cluster(servers=3, etcdSnapshots={"enabled": False})
CP1 = member("cp1", "192.168.10.11", first=True)
W1 = member("w1", "192.168.10.21", "agent", server_url="https://k8s.home.example.org:6443")
TOKEN = "K10secret::server:abc\n"


def install(host, node=CP1, cluster=CLUSTER, token=TOKEN, labels=None):
    if labels:
        node = replace(node, labels=labels)
    config = render.node_config_yaml(node, cluster)
    host.stage(render.STAGED_CONFIG_PATH, config)
    return host.run(render.install_script(node, cluster, config), stdin=token)


def installer_runs(calls):
    return [c for c in calls if c.startswith("installer ")]


def restarts(calls):
    return [c for c in calls if c.startswith("systemctl restart")]


def test_fresh_install_runs_the_pinned_installer_once(host):
    result = install(host)
    assert result.rc == 0, result.stderr
    calls = host.calls()
    assert installer_runs(calls) == ["installer version=v1.34.2+k3s1 exec=server skip="]
    assert any("k3s-io/k3s/v1.34.2%2Bk3s1/install.sh" in c for c in calls)
    assert host.read(render.OWNER_PATH) == "cp1\n"
    assert host.read(render.VERSION_PATH) == "v1.34.2+k3s1\n"
    assert host.read(render.TOKEN_PATH) == TOKEN  # from stdin, never from the script text
    assert TOKEN.strip() not in render.install_script(CP1, CLUSTER, "x")


def test_same_config_again_changes_nothing(host):
    install(host)
    host.calls()
    result = install(host)
    assert result.rc == 0 and "config unchanged" in result.stdout
    calls = host.calls()
    assert installer_runs(calls) == [] and restarts(calls) == []


def test_label_change_never_restarts_k3s(host):
    # k3s reads node-label only when the node registers: a restart would change nothing, so
    # labels go to a registration drop-in and the labels step sets them on the Node.
    install(host)
    host.calls()
    result = install(host, labels={"pool": "fast"})
    assert result.rc == 0, result.stderr
    calls = host.calls()
    assert restarts(calls) == [] and installer_runs(calls) == []
    assert not any(c.startswith("uninstall") for c in calls)
    assert "pool=fast" in host.read(render.REGISTRATION_PATH)
    assert "pool" not in host.read(render.CONFIG_PATH)
    assert install(host).rc == 0 and host.read(render.REGISTRATION_PATH) is None  # labels gone


def test_labels_step_sets_the_configured_and_removes_the_dropped(host):
    install(host)  # runs on the first server, where k3s is installed
    host.calls()
    node = replace(W1, labels={"pool": "fast", "zone": "a"}, taints=("dedicated=ingress:NoSchedule",))
    first = host.run(render.labels_script(node))
    assert first.rc == 0, first.stderr
    calls = [c for c in host.calls() if not c.startswith("k3s kubectl get")]
    assert calls == ["k3s kubectl label node w1 --overwrite pool=fast zone=a",
                     "k3s kubectl taint node w1 --overwrite dedicated=ingress:NoSchedule",
                     "k3s kubectl annotate node w1 --overwrite k3s-platform/labels=pool,zone "
                     "k3s-platform/taints=dedicated:NoSchedule"]
    later = replace(W1, labels={"pool": "slow"})
    assert host.run(render.labels_script(later)).rc == 0
    calls = [c for c in host.calls() if not c.startswith("k3s kubectl get")]
    assert calls == ["k3s kubectl label node w1 zone-", "k3s kubectl taint node w1 dedicated:NoSchedule-",
                     "k3s kubectl label node w1 --overwrite pool=slow",
                     "k3s kubectl annotate node w1 --overwrite k3s-platform/labels=pool k3s-platform/taints="]


def test_token_change_restarts(host):
    install(host)
    host.calls()
    assert install(host, token="K10other::server:xyz\n").rc == 0
    assert restarts(host.calls()) == ["systemctl restart k3s"]


def test_failed_start_is_never_reported_ready(host):
    host.flag("fail-start")
    assert install(host).rc != 0
    # The retry finds the config already in place: it must still look, and fail again.
    retry = install(host)
    assert retry.rc != 0 and "failed to start" in retry.stderr
    host.flag("fail-start", on=False)
    host.calls()
    fixed = install(host)
    assert fixed.rc == 0, fixed.stderr
    assert restarts(host.calls()) == ["systemctl restart k3s"] and "ready" in fixed.stdout


def test_agent_install_and_restart(host):
    assert install(host, node=W1).rc == 0
    assert installer_runs(host.calls()) == ["installer version=v1.34.2+k3s1 exec=agent skip="]
    assert install(host, node=W1, token="K10other::server:xyz\n").rc == 0
    assert restarts(host.calls()) == ["systemctl restart k3s-agent"]


def test_upgrade_goes_up_only(host):
    install(host)
    host.calls()
    same = host.run(render.upgrade_script(CP1, CLUSTER))
    assert same.rc == 0 and "already at" in same.stdout and installer_runs(host.calls()) == []

    newer = CLUSTER.model_copy(update={"k3s_version": "v1.34.3+k3s1"})
    up = host.run(render.upgrade_script(CP1, newer))
    assert up.rc == 0, up.stderr
    assert installer_runs(host.calls()) == ["installer version=v1.34.3+k3s1 exec=server skip="]
    assert host.read(render.VERSION_PATH) == "v1.34.3+k3s1\n"

    down = host.run(render.upgrade_script(CP1, CLUSTER))
    assert down.rc != 0 and "refusing to go down" in down.stderr
    assert installer_runs(host.calls()) == []


def test_installer_checksum_is_enforced(host):
    pinned = CLUSTER.model_copy(update={"installer": Installer(sha256="0" * 64)})
    result = install(host, cluster=pinned)
    assert result.rc != 0 and "does not match cluster.installer.sha256" in result.stderr
    assert installer_runs(host.calls()) == []


def test_airgap_install_uses_the_local_binary_and_script(host):
    airgap = CLUSTER.model_copy(update={"installer": Installer(source="airgap")})
    missing = install(host, cluster=airgap)
    assert missing.rc != 0 and "copy the v1.34.2+k3s1 binary there first" in missing.stderr
    # The operator puts the binary and the installer on the host, as k3s's air-gap docs say.
    host.run(f"cp {host.state}/k3s /usr/local/bin/k3s\n")
    (host.state / "version").write_text("v1.34.2+k3s1\n")
    host.stage(airgap.installer.script_path, (host.state / "installer.sh").read_text())
    host.calls()
    result = install(host, cluster=airgap)
    assert result.rc == 0, result.stderr
    calls = host.calls()
    assert installer_runs(calls) == ["installer version=v1.34.2+k3s1 exec=server skip=true"]
    assert not any(c.startswith("curl") for c in calls)


def test_uninstall_only_on_a_host_the_node_still_owns(host):
    install(host)
    # A rename: cp9 was installed on the same host after cp1; cp1's delete must leave it.
    renamed = replace(CP1, name="cp9")
    assert install(host, node=renamed).rc == 0
    host.calls()
    kept = host.run(render.uninstall_script(CP1))
    assert kept.rc == 0 and "leaving k3s in place" in kept.stdout
    assert not any(c.startswith("uninstall") for c in host.calls())

    gone = host.run(render.uninstall_script(renamed))
    assert gone.rc == 0, gone.stderr
    assert host.calls() == ["uninstall k3s-uninstall.sh"]
    assert host.read(render.OWNER_PATH) is None


def test_member_removal_drains_then_deletes_the_node(host):
    install(host)
    host.flag("node-w1")
    host.calls()
    result = host.run(render.member_remove_script(W1))
    assert result.rc == 0, result.stderr
    calls = [c for c in host.calls() if c.startswith("k3s kubectl") and "get" not in c]
    assert calls[0].startswith("k3s kubectl drain w1") and calls[1].startswith("k3s kubectl delete node w1")

    host.flag("drain-blocked")
    blocked = host.run(render.member_remove_script(W1))
    assert blocked.rc != 0 and "could not be drained" in blocked.stderr
    assert not any("delete node" in c for c in host.calls())


def test_member_removal_of_a_dead_node_deletes_it_without_waiting_for_a_drain(host):
    install(host)
    host.flag("node-w1")
    host.flag("notready-w1")
    host.flag("drain-blocked")  # a drain would fail: its pods can never be confirmed evicted
    host.calls()
    result = host.run(render.member_remove_script(W1))
    assert result.rc == 0, result.stderr
    assert "is not Ready" in result.stdout
    calls = [c for c in host.calls() if c.startswith("k3s kubectl") and "get" not in c]
    assert calls == ["k3s kubectl delete node w1 --wait=true --timeout=120s"]


OLD, NEW = "a" * 64, "b" * 64


def _server_runs(host, token: str) -> None:
    host.run(f"mkdir -p /var/lib/rancher/k3s/server\nprintf 'K10{'0' * 64}::server:%s\\n' {token}"
             " > /var/lib/rancher/k3s/server/token\n")


def test_token_rotation_calls_the_token_api_with_the_tokens_off_the_command_line(host):
    _server_runs(host, OLD)
    script = render.rotate_token_script(CP1)
    result = host.run(script, stdin=f"{OLD}\n{NEW}\n")
    assert result.rc == 0, result.stderr
    assert "cluster token rotated" in result.stdout
    calls = host.calls()
    assert calls == ["curl -K -"]  # everything else, tokens included, came on stdin
    config = (host.state / "curl-config").read_text()
    assert 'url = "https://127.0.0.1:6443/v1-k3s/token"' in config and 'request = "PUT"' in config
    assert f'user = "server:{OLD}"' in config and f'data = "{{\\"newToken\\":\\"{NEW}\\"}}"' in config
    assert OLD not in script and NEW not in script and NEW not in result.stdout + result.stderr
    assert host.read("/var/lib/rancher/k3s/server/token").endswith(f"::server:{NEW}\n")


def test_token_rotation_is_a_no_op_when_done_or_before_the_install(host):
    assert "not installed yet" in host.run(render.rotate_token_script(CP1), stdin=f"{OLD}\n{NEW}\n").stdout
    _server_runs(host, NEW)
    again = host.run(render.rotate_token_script(CP1), stdin=f"{OLD}\n{NEW}\n")
    assert again.rc == 0 and "already runs the new token" in again.stdout
    assert host.calls() == []


def test_token_rotation_refuses_a_skipped_generation_and_a_failed_call(host):
    _server_runs(host, "c" * 64)  # two generations behind
    skipped = host.run(render.rotate_token_script(CP1), stdin=f"{OLD}\n{NEW}\n")
    assert skipped.rc == 1 and "one step at a time" in skipped.stderr and host.calls() == []
    _server_runs(host, OLD)
    host.flag("token-api-down")
    failed = host.run(render.rotate_token_script(CP1), stdin=f"{OLD}\n{NEW}\n")
    assert failed.rc != 0 and host.read("/var/lib/rancher/k3s/server/token").endswith(f"::server:{OLD}\n")
