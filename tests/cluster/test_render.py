"""Golden files and shellcheck for everything that goes to a k3s host.

Regenerate goldens after an intended change: UPDATE_GOLDEN=1 python -m pytest tests/cluster
"""

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.cluster import render
from tests.cluster.members import cluster, member
from tests.golden import check_golden

GOLDEN = Path(__file__).parent / "golden"
HA = cluster(servers=3)  # snapshots on by default: every 6 hours, keep 12
SINGLE = cluster(api_hostname="k8s.lab.home.example.org")
URL = "https://k8s.home.example.org:6443"

NODES = {
    "first-server": (member("cp1", "192.168.10.11", first=True), HA),
    "joining-server": (member("cp2", "192.168.10.12", server_url=URL), HA),
    "agent": (member("w1", "192.168.10.21", "agent", server_url=URL,
                     labels={"node.kubernetes.io/pool": "general"}), HA),
    "dev-single": (member("lab1", "192.168.20.11", first=True), SINGLE),
}


def rendered(case: str) -> dict[str, str]:
    node, cluster = NODES[case]
    config = render.node_config_yaml(node, cluster)
    return {
        "config.yaml": config,
        "install.sh": render.install_script(node, cluster, config),
        "upgrade.sh": render.upgrade_script(node, cluster),
        "uninstall.sh": render.uninstall_script(node),
    }




@pytest.mark.parametrize("case", sorted(NODES))
def test_golden(case):
    for fname, text in rendered(case).items():
        check_golden(GOLDEN / case / fname, text)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed (.ci/run installs it)")
def test_shellcheck_every_script(tmp_path):
    scripts = [render.prepare_script("k3s")]
    for case in NODES:
        scripts += [t for n, t in rendered(case).items() if n.endswith(".sh")]
    paths = []
    for i, text in enumerate(scripts):
        p = tmp_path / f"s{i}.sh"
        p.write_text(text)
        paths.append(str(p))
    result = subprocess.run(["shellcheck", "--shell=sh", *paths], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_first_server_bootstraps_etcd_only_in_ha():
    cfg, _ = NODES["first-server"]
    assert render.node_config(cfg, HA)["cluster-init"] is True
    dev, _ = NODES["dev-single"]
    assert "cluster-init" not in render.node_config(dev, SINGLE)  # SQLite for one server


def test_joiners_register_through_api_endpoint():
    for case in ("joining-server", "agent"):
        node, cluster = NODES[case]
        assert render.node_config(node, cluster)["server"] == URL
    assert "server" not in render.node_config(*NODES["first-server"])


def test_servers_share_cluster_wide_flags_and_disable_bundled_traefik():
    a = render.node_config(*NODES["first-server"])
    b = render.node_config(*NODES["joining-server"])
    for key in ("cluster-cidr", "service-cidr", "disable", "secrets-encryption", "write-kubeconfig-mode"):
        assert a[key] == b[key]
    assert a["disable"] == ["traefik"]
    assert a["write-kubeconfig-mode"] == "0600"
    assert "k8s.home.example.org" in a["tls-san"]


def test_token_never_in_rendered_text():
    for case in NODES:
        for text in rendered(case).values():
            assert "token:" not in text  # only token-file, fed from stdin
    config = yaml.safe_load(rendered("agent")["config.yaml"])
    assert config["token-file"] == render.TOKEN_PATH


def test_install_script_changes_exactly_with_config():
    node, cluster = NODES["agent"]
    one = render.install_script(node, cluster, "a: 1\n")
    assert one == render.install_script(node, cluster, "a: 1\n")
    assert one != render.install_script(node, cluster, "a: 2\n")


def test_ssh_user_reaches_the_prepare_script_as_one_shell_word():
    # Config validation refuses such a name; the renderer quotes it anyway.
    text = render.prepare_script("k3s'; touch /tmp/pwned #")
    line = next(x for x in text.splitlines() if x.startswith("sudo install -d"))
    words = shlex.split(line)
    assert words[5:] == ["-o", "k3s'; touch /tmp/pwned #", render.STAGING_DIR]



def test_every_server_denies_service_external_ips_and_keeps_node_restriction():
    for node, spec in NODES.values():
        cfg = render.node_config(node, spec)
        if node.role == "server":
            [arg] = cfg["kube-apiserver-arg"]
            assert arg == "enable-admission-plugins=NodeRestriction,DenyServiceExternalIPs"
        else:
            assert "kube-apiserver-arg" not in cfg
