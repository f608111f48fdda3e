"""Pure renderers for k3s nodes: `/etc/rancher/k3s/config.yaml` and the scripts run over SSH.

Nothing here touches Pulumi. Each function takes plain settings and returns text, so the
output is golden-tested and shellchecked, and the component only wires Outputs into it.
The cluster token never appears in any rendered text: it reaches the host on the install
script's standard input and lands in a root-only `token-file`.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass, field

import yaml

CONFIG_DIR = "/etc/rancher/k3s"
CONFIG_PATH = f"{CONFIG_DIR}/config.yaml"
TOKEN_PATH = f"{CONFIG_DIR}/cluster-token"
# CopyToRemote runs as the SSH user, who cannot write /etc: the config is staged in a
# directory the prepare step gives to that user, and installed by the install script with
# sudo. The staged copy stays, so a later re-run (new token) still finds it.
STAGING_DIR = "/var/lib/k3s-platform"
STAGED_CONFIG_PATH = f"{STAGING_DIR}/config.yaml"
API_PORT = 6443


@dataclass(frozen=True)
class NodeSpec:
    """One node as the renderers see it.

    role: "server" or "agent". first: the server that bootstraps the cluster.
    server_url: the API endpoint joiners register with (None for the first server).
    """

    name: str
    ip: str
    role: str
    first: bool = False
    server_url: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClusterSpec:
    """Cluster-wide settings every node's config must agree on."""

    k3s_version: str
    api_hostname: str
    pod_cidr: str
    service_cidr: str
    ha: bool
    secrets_encryption: bool = True
    etcd_snapshot_schedule: str | None = None
    etcd_snapshot_retention: int | None = None


def api_url(api_hostname: str) -> str:
    return f"https://{api_hostname}:{API_PORT}"


def node_config(node: NodeSpec, cluster: ClusterSpec) -> dict:
    """The k3s config file of one node, as a dict (keys are k3s CLI flags without dashes)."""
    # Ref: https://docs.k3s.io/installation/configuration#configuration-file
    cfg: dict = {"node-name": node.name, "node-ip": node.ip, "token-file": TOKEN_PATH}
    if node.role == "server":
        if node.first and cluster.ha:
            cfg["cluster-init"] = True  # embedded etcd; SQLite when there is one server
        if node.server_url:
            cfg["server"] = node.server_url
        cfg["tls-san"] = sorted({cluster.api_hostname, node.ip})
        # These must be identical on every server, or joining servers are refused.
        cfg["cluster-cidr"] = cluster.pod_cidr
        cfg["service-cidr"] = cluster.service_cidr
        cfg["disable"] = ["traefik"]  # Traefik v3 is installed by the system layer
        cfg["write-kubeconfig-mode"] = "0600"
        if cluster.secrets_encryption:
            cfg["secrets-encryption"] = True
        if cluster.ha and cluster.etcd_snapshot_schedule:
            cfg["etcd-snapshot-schedule-cron"] = cluster.etcd_snapshot_schedule
            cfg["etcd-snapshot-retention"] = cluster.etcd_snapshot_retention
    else:
        cfg["server"] = node.server_url
    if node.labels:
        cfg["node-label"] = [f"{k}={v}" for k, v in sorted(node.labels.items())]
    if node.taints:
        cfg["node-taint"] = list(node.taints)
    return cfg


def node_config_yaml(node: NodeSpec, cluster: ClusterSpec) -> str:
    header = f"# k3s {node.role} config for {node.name}, rendered by k3s-platform. Do not edit by hand.\n"
    return header + yaml.safe_dump(node_config(node, cluster), sort_keys=False, default_flow_style=False)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _service(role: str) -> str:
    return "k3s" if role == "server" else "k3s-agent"


_FETCH_AND_RUN = """\
fetch_and_run_installer() {{
  # $1: the k3s version. The installer is taken from that release's own tag (not get.k3s.io's
  # moving copy); it downloads and checksums the binary and (re)starts the service.
  installer=$(mktemp)
  curl -sfL --retry 3 -o "$installer" "https://raw.githubusercontent.com/k3s-io/k3s/$(printf '%s' "$1" | sed 's/+/%2B/')/install.sh"
  sudo env INSTALL_K3S_VERSION="$1" INSTALL_K3S_EXEC="{role}" sh "$installer"
  rm -f "$installer"
}}

wait_until_ready() {{
  i=0
  until {ready_check}; do
    i=$((i + 1))
    if [ "$i" -ge 60 ]; then
      echo "{service} on {name} did not become ready within 5 minutes" >&2
      exit 1
    fi
    sleep 5
  done
}}
"""


def _ready_check(node: NodeSpec) -> str:
    if node.role == "server":
        return "sudo k3s kubectl get --raw /readyz >/dev/null 2>&1"
    return "systemctl is-active --quiet k3s-agent"


def install_script(node: NodeSpec, cluster: ClusterSpec, config_text: str) -> str:
    """Install k3s on a fresh host, or apply a changed config/token to an installed one.

    Idempotent: when the staged config and token equal what is in place, it changes nothing,
    so re-running it (e.g. because the pinned version moved) never restarts a node. Version
    changes are the upgrade script's job, which runs in a safe order.
    """
    helpers = _FETCH_AND_RUN.format(role=node.role, service=_service(node.role), name=node.name,
                                    ready_check=_ready_check(node))
    return f"""#!/bin/sh
# Install or reconfigure k3s {node.role} on {node.name}. Rendered by k3s-platform.
# config sha256: {sha256(config_text)}
# The cluster token arrives on standard input; it is never echoed or logged.
set -eu

{helpers}
sudo install -d -m 0755 {CONFIG_DIR}
sudo sh -c 'umask 077; cat > {TOKEN_PATH}.new'

if command -v k3s >/dev/null 2>&1 \\
  && sudo cmp -s {STAGED_CONFIG_PATH} {CONFIG_PATH} \\
  && sudo cmp -s {TOKEN_PATH}.new {TOKEN_PATH}; then
  sudo rm -f {TOKEN_PATH}.new
  echo "k3s on {node.name}: config unchanged"
  exit 0
fi

sudo install -m 0600 -o root -g root {STAGED_CONFIG_PATH} {CONFIG_PATH}
sudo mv {TOKEN_PATH}.new {TOKEN_PATH}

if command -v k3s >/dev/null 2>&1; then
  # Installed already: keep its version, restart with the new config.
  version=$(k3s --version | awk 'NR == 1 {{ print $3 }}')
else
  version='{cluster.k3s_version}'
fi
fetch_and_run_installer "$version"
wait_until_ready
echo "k3s {node.role} on {node.name}: ready at $version"
"""


def upgrade_script(node: NodeSpec, cluster: ClusterSpec) -> str:
    """Bring an installed node to the pinned version; a no-op when it is already there."""
    helpers = _FETCH_AND_RUN.format(role=node.role, service=_service(node.role), name=node.name,
                                    ready_check=_ready_check(node))
    return f"""#!/bin/sh
# Upgrade k3s {node.role} on {node.name} to the pinned version. Rendered by k3s-platform.
# Servers upgrade one at a time, agents after every server (Kubernetes version skew policy).
set -eu

{helpers}
target='{cluster.k3s_version}'
current=$(k3s --version | awk 'NR == 1 {{ print $3 }}')
if [ "$current" = "$target" ]; then
  echo "k3s on {node.name}: already at $target"
  exit 0
fi
echo "k3s on {node.name}: upgrading $current -> $target"
fetch_and_run_installer "$target"
wait_until_ready
"""


def uninstall_script(node: NodeSpec) -> str:
    """Remove k3s from the host; tolerates a host where it is already gone."""
    script = "k3s-uninstall.sh" if node.role == "server" else "k3s-agent-uninstall.sh"
    return f"""#!/bin/sh
# Uninstall k3s {node.role} from {node.name}. Rendered by k3s-platform.
set -eu
if [ -x /usr/local/bin/{script} ]; then
  sudo /usr/local/bin/{script}
else
  echo "k3s is not installed on {node.name}; nothing to remove"
fi
sudo rm -rf {TOKEN_PATH} {CONFIG_PATH} {STAGING_DIR}
"""


def prepare_script(ssh_user: str) -> str:
    """Give the SSH user a staging directory that CopyToRemote can write to."""
    return f"""#!/bin/sh
# Prepare the k3s-platform staging directory. Rendered by k3s-platform.
set -eu
sudo install -d -m 0755 -o {shlex.quote(ssh_user)} {STAGING_DIR}
"""


READ_KUBECONFIG = f"sudo cat {CONFIG_DIR}/k3s.yaml"


def rewrite_kubeconfig(text: str, api_hostname: str, cluster_name: str) -> str:
    """Point the kubeconfig k3s writes (server https://127.0.0.1:6443) at the API endpoint."""
    doc = yaml.safe_load(text) or {}
    for entry in doc.get("clusters", []):
        entry["cluster"]["server"] = api_url(api_hostname)
        entry["name"] = cluster_name
    for entry in doc.get("contexts", []):
        entry["context"]["cluster"] = cluster_name
        entry["name"] = cluster_name
    doc["current-context"] = cluster_name
    return yaml.safe_dump(doc, sort_keys=False)
