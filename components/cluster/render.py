"""Pure renderers for k3s nodes: `/etc/rancher/k3s/config.yaml` and the scripts run over SSH.

Nothing here touches Pulumi. Each function takes the config's own models (`Cluster`, and a
`Member`: one node as `Cluster.members` decided it) and returns text, so the output is
golden-tested and shellchecked, and the component only wires Outputs into it. What differs
between a server and an agent is one table, `ROLES`.
The cluster token never appears in any rendered text: it reaches the host on the install
script's standard input and lands in a root-only `token-file`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass

import yaml

from components.config import k3s_options
from components.config.cluster import API_PORT, Cluster, EtcdS3, Installer, Member, Registries, Role

CONFIG_DIR = "/etc/rancher/k3s"
CONFIG_PATH = f"{CONFIG_DIR}/config.yaml"
TOKEN_PATH = f"{CONFIG_DIR}/cluster-token"
# The node's labels and taints for its registration only (k3s reads config.yaml.d drop-ins at
# start): kept out of config.yaml so that changing them never restarts k3s; the labels step
# puts them on the live Node object.
REGISTRATION_PATH = f"{CONFIG_DIR}/config.yaml.d/50-k3s-platform-node.yaml"
LABELS_ANNOTATION = "k3s-platform/labels"
TAINTS_ANNOTATION = "k3s-platform/taints"
# CopyToRemote runs as the SSH user, who cannot write /etc: the config is staged in a
# directory the prepare step gives to that user, and installed by the install script with
# sudo. The staged copy stays, so a later re-run (new token) still finds it.
STAGING_DIR = "/var/lib/k3s-platform"
STAGED_CONFIG_PATH = f"{STAGING_DIR}/config.yaml"
# Host-side records of the program: which node owns the host, and the version k3s last
# started at (what an upgrade compares against; the binary alone can be ahead of it).
OWNER_PATH = f"{CONFIG_DIR}/k3s-platform-node"
VERSION_PATH = f"{CONFIG_DIR}/k3s-platform-version"


def _sh(value: str) -> str:
    """`value` as one single-quoted shell word, always (shlex.quote leaves "safe" text bare).
    Every config value in a script goes through it, bound to a variable once: the config's
    grammars already refuse what a shell would read, and this holds if one slips."""
    return "'" + value.replace("'", "'\\''") + "'"


def _comment(text: str) -> str:
    """`text` safe inside a `#` comment (or a YAML one): a line break would end the comment."""
    return "".join(c if c.isprintable() else "?" for c in text)


# Admission plugins the API server enables beyond its defaults (k3s's own choice first).
APISERVER_ADMISSION_PLUGINS = ("NodeRestriction", "DenyServiceExternalIPs")


def _server_keys(node: Member, cluster: Cluster) -> dict:
    cfg: dict = {}
    if node.first and cluster.ha:
        cfg["cluster-init"] = True  # embedded etcd; SQLite when there is one server
    if node.server_url:
        cfg["server"] = node.server_url
    cfg["tls-san"] = sorted({cluster.api_hostname, str(node.ip)})
    # These must be identical on every server, or joining servers are refused.
    cfg["cluster-cidr"] = str(cluster.pod_cidr)
    cfg["service-cidr"] = str(cluster.service_cidr)
    cfg["disable"] = ["traefik"]  # Traefik v3 is installed by the system layer
    cfg["write-kubeconfig-mode"] = "0600"
    # Services with externalIPs let any namespace capture traffic for any address
    # (CVE-2020-8554). k3s passes its own `enable-admission-plugins=NodeRestriction`; an
    # extra arg with the same name replaces it, so NodeRestriction is named again here.
    cfg["kube-apiserver-arg"] = [f"enable-admission-plugins={','.join(APISERVER_ADMISSION_PLUGINS)}"]
    if cluster.secrets_encryption:
        cfg["secrets-encryption"] = True
    snapshots = cluster.active_snapshots
    if snapshots is not None:
        cfg["etcd-snapshot-schedule-cron"] = snapshots.schedule
        cfg["etcd-snapshot-retention"] = snapshots.retention
        if snapshots.s3 is not None:
            cfg.update(etcd_s3_config(snapshots.s3))
    return cfg


def _agent_keys(node: Member, cluster: Cluster) -> dict:
    return {"server": node.server_url}


@dataclass(frozen=True)
class RoleFacts:
    """What differs between a server and an agent, in one place.

    service: the systemd unit k3s's installer writes; uninstaller: the script it leaves in
    /usr/local/bin; ready_check: a shell test that the node's k3s serves (a server answers
    /readyz; an agent has no API of its own, so its unit being active is what it can say);
    config_keys: the role's keys of config.yaml beyond the node's name, address and token."""

    service: str
    uninstaller: str
    ready_check: str
    config_keys: Callable[[Member, Cluster], dict]

    @property
    def unit_path(self) -> str:
        # Written by the k3s installer; its presence (not the binary's: an air-gapped host has
        # the binary before the first install) says k3s was installed here.
        return f"/etc/systemd/system/{self.service}.service"


ROLES: dict[Role, RoleFacts] = {
    "server": RoleFacts(service="k3s", uninstaller="k3s-uninstall.sh",
                        ready_check="sudo k3s kubectl get --raw /readyz >/dev/null 2>&1", config_keys=_server_keys),
    "agent": RoleFacts(service="k3s-agent", uninstaller="k3s-agent-uninstall.sh",
                       ready_check="systemctl is-active --quiet k3s-agent", config_keys=_agent_keys),
}


def node_config(node: Member, cluster: Cluster) -> dict:
    """The k3s config file of one node, as a dict (keys are k3s CLI flags without dashes)."""
    # Ref: https://docs.k3s.io/installation/configuration#configuration-file
    cfg: dict = {"node-name": node.name, "node-ip": str(node.ip), "token-file": TOKEN_PATH,
                 **ROLES[node.role].config_keys(node, cluster)}
    return k3s_options.merge(cfg, dict(node.options))


def etcd_s3_config(s3: EtcdS3) -> dict:
    """k3s's `etcd-s3-*` keys but the credentials (`etcd_s3_secrets_yaml`, on stdin)."""
    # Ref: k3s v1.34 pkg/cli/cmds/server.go (the etcd-s3 flags)
    cfg: dict = {"etcd-s3": True, "etcd-s3-endpoint": s3.endpoint, "etcd-s3-bucket": s3.bucket,
                 "etcd-s3-region": s3.region, "etcd-s3-bucket-lookup-type": s3.bucket_lookup,
                 "etcd-s3-retention": s3.retention}
    if s3.folder:
        cfg["etcd-s3-folder"] = s3.folder
    if s3.insecure:
        cfg["etcd-s3-insecure"] = True
    if s3.skip_ssl_verify:
        cfg["etcd-s3-skip-ssl-verify"] = True
    if s3.endpoint_ca:
        cfg["etcd-s3-endpoint-ca"] = s3.endpoint_ca
    return cfg


def registration_config(node: Member) -> dict:
    """The labels and taints k3s gives the Node when it registers (k3s applies `node-label`
    and `node-taint` only then; the labels step reconciles them afterwards)."""
    cfg: dict = {}
    if node.labels:
        cfg["node-label"] = [f"{k}={v}" for k, v in sorted(node.labels.items())]
    if node.taints:
        cfg["node-taint"] = list(node.taints)
    return cfg


def node_config_yaml(node: Member, cluster: Cluster) -> str:
    header = f"# k3s {node.role} config for {_comment(node.name)}, rendered by k3s-platform. Do not edit by hand.\n"
    return header + yaml.safe_dump(node_config(node, cluster), sort_keys=False, default_flow_style=False)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _installer_url(version_var: str) -> str:
    # The installer of the release tag itself, never get.k3s.io's moving copy.
    return ("https://raw.githubusercontent.com/k3s-io/k3s/"
            f"$(printf '%s' \"{version_var}\" | sed 's/+/%2B/')/install.sh")


def _run_installer(node: Member, installer: Installer) -> str:
    """Shell function `run_installer VERSION`: install or upgrade the k3s binary and service."""
    role = node.role
    if installer.source == "airgap":
        # k3s air-gap install: the operator has put the binary (and images) on the host; the
        # installer only writes the service and starts it (INSTALL_K3S_SKIP_DOWNLOAD).
        return f"""run_installer() {{
  have=$(/usr/local/bin/k3s --version 2>/dev/null | awk 'NR == 1 {{ print $3 }}')
  if [ "$have" != "$1" ]; then
    echo "k3s on $node: /usr/local/bin/k3s is '$have', not $1 — copy the $1 binary there first (air-gap install)" >&2
    exit 1
  fi
  script={_sh(installer.script_path)}
  if [ ! -f "$script" ]; then
    echo "k3s on $node: no installer at $script — copy install.sh of $1 there first (air-gap install)" >&2
    exit 1
  fi
  sudo env INSTALL_K3S_SKIP_DOWNLOAD=true INSTALL_K3S_VERSION="$1" INSTALL_K3S_EXEC={role} sh "$script"
  # Without a download the installer may see nothing new and skip the restart.
  sudo systemctl restart {ROLES[role].service}
}}
"""
    verify = ""
    if installer.sha256:
        verify = f"""  if ! printf '%s  %s\\n' {_sh(installer.sha256)} "$script" | sha256sum -c --status -; then
    rm -f "$script"
    echo "k3s on $node: the $1 installer does not match cluster.installer.sha256 — refusing to run it" >&2
    exit 1
  fi
"""
    return f"""run_installer() {{
  script=$(mktemp)
  curl -sfL --retry 3 -o "$script" "{_installer_url("$1")}"
{verify}  sudo env INSTALL_K3S_VERSION="$1" INSTALL_K3S_EXEC={role} sh "$script"
  rm -f "$script"
}}
"""


def _wait_until_ready(node: Member) -> str:
    check = ROLES[node.role].ready_check
    service = ROLES[node.role].service
    return f"""restart_service() {{
  if ! sudo systemctl restart {service}; then
    echo "{service} on $node failed to start — see 'journalctl -u {service}' on the host" >&2
    exit 1
  fi
}}

wait_until_ready() {{
  i=0
  until {check}; do
    i=$((i + 1))
    if [ "$i" -ge 60 ]; then
      echo "{service} on $node did not become ready within 5 minutes" >&2
      exit 1
    fi
    sleep 5
  done
}}
"""


def _registration_dropin(node: Member) -> str:
    """Shell that writes (or removes) the registration drop-in; no restart follows from it."""
    cfg = registration_config(node)
    if not cfg:
        return f"sudo rm -f {REGISTRATION_PATH}"
    text = yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False)
    return (f"sudo install -d -m 0755 {os.path.dirname(REGISTRATION_PATH)}\n"
            f"sudo sh -c 'umask 077; cat > {REGISTRATION_PATH}' <<'K3SP_REGISTRATION'\n{text}K3SP_REGISTRATION")


def labels_script(node: Member) -> str:
    """Run on the first server: make the live Node's labels and taints what the config says.

    k3s applies `node-label`/`node-taint` only when a node registers, so a change in the config
    would otherwise change nothing. The keys this step set last time are kept in two
    annotations; a key the config no longer has is removed, every configured one is set."""
    labels = sorted(node.labels.items())
    label_keys = " ".join(k for k, _ in labels)
    taint_keys = " ".join(_taint_key(t) for t in node.taints)
    get = "sudo k3s kubectl get node \"$node\" -o 'jsonpath={{.metadata.annotations.{}}}'"
    lines = [
        "#!/bin/sh",
        f"# Reconcile the labels and taints of node {_comment(node.name)} with the config. Rendered by k3s-platform.",
        "set -eu",
        f"node={_sh(node.name)}",
        f"labels={_sh(f' {label_keys} ')}",
        f"taints={_sh(f' {taint_keys} ')}",
        f"old_labels=$({get.format(LABELS_ANNOTATION)})",
        f"old_taints=$({get.format(TAINTS_ANNOTATION)})",
        "for key in $(printf '%s' \"$old_labels\" | tr ',' ' '); do",
        "  case \"$labels\" in *\" $key \"*) ;; *) sudo k3s kubectl label node \"$node\" \"$key-\" ;; esac",
        "done",
        "for taint in $(printf '%s' \"$old_taints\" | tr ',' ' '); do",
        "  case \"$taints\" in *\" $taint \"*) ;; *) sudo k3s kubectl taint node \"$node\" \"$taint-\" ;; esac",
        "done",
    ]
    if labels:
        lines.append("sudo k3s kubectl label node \"$node\" --overwrite "
                     + " ".join(shlex.quote(f"{k}={v}") for k, v in labels))
    for taint in node.taints:
        lines.append(f"sudo k3s kubectl taint node \"$node\" --overwrite {shlex.quote(taint)}")
    lines.append("sudo k3s kubectl annotate node \"$node\" --overwrite "
                 + shlex.quote(f"{LABELS_ANNOTATION}={','.join(k for k, _ in labels)}") + " "
                 + shlex.quote(f"{TAINTS_ANNOTATION}={','.join(_taint_key(t) for t in node.taints)}"))
    lines.append("echo \"node $node: labels and taints as configured\"")
    return "\n".join(lines) + "\n"


def _taint_key(taint: str) -> str:
    """`key=value:Effect` (or `key:Effect`) as kubectl removes it: `key:Effect`."""
    key_value, _, effect = taint.rpartition(":")
    return f"{key_value.split('=', 1)[0]}:{effect}"


def install_script(node: Member, cluster: Cluster, config_text: str) -> str:
    """Install k3s on a fresh host, or apply a changed config or token to an installed one.

    Runs as the install step's create *and* update. On an installed host it never re-runs the
    installer (which skips the restart when only config.yaml changed): it restarts the service
    itself when the config or token changed, and only then. Every path ends in
    `wait_until_ready`, so a retry after a failed start reports the truth. Version changes
    are the upgrade step's job, in their own safe order.
    """
    service = ROLES[node.role].service
    return f"""#!/bin/sh
# Install or reconfigure k3s {node.role} on {_comment(node.name)}. Rendered by k3s-platform.
# config sha256: {sha256(config_text)}
# The cluster token arrives on standard input; it is never echoed or logged.
set -eu
node={_sh(node.name)}

{_run_installer(node, cluster.installer)}
{_wait_until_ready(node)}
sudo install -d -m 0755 {CONFIG_DIR}
sudo sh -c 'umask 077; cat > {TOKEN_PATH}.new'
changed=no
sudo cmp -s {STAGED_CONFIG_PATH} {CONFIG_PATH} || changed=yes
sudo cmp -s {TOKEN_PATH}.new {TOKEN_PATH} || changed=yes
if [ "$changed" = yes ]; then
  sudo install -m 0600 -o root -g root {STAGED_CONFIG_PATH} {CONFIG_PATH}
  sudo mv {TOKEN_PATH}.new {TOKEN_PATH}
else
  sudo rm -f {TOKEN_PATH}.new
fi
{_registration_dropin(node)}
# Which node of the config owns this host: the uninstall of any other node leaves it alone.
printf '%s\\n' "$node" | sudo tee {OWNER_PATH} >/dev/null

if [ -f {ROLES[node.role].unit_path} ]; then
  if [ "$changed" = yes ]; then
    echo "k3s on $node: config or token changed, restarting {service}"
    restart_service
  elif ! systemctl is-active --quiet {service}; then
    echo "k3s on $node: {service} is not running, starting it"
    restart_service
  else
    echo "k3s on $node: config unchanged"
  fi
else
  run_installer {_sh(cluster.k3s_version)}
  printf '%s\\n' {_sh(cluster.k3s_version)} | sudo tee {VERSION_PATH} >/dev/null
fi
wait_until_ready
echo "k3s {node.role} on $node: ready"
"""


def upgrade_script(node: Member, cluster: Cluster) -> str:
    """Bring an installed node to the pinned version; a no-op when it is already there.

    The version k3s was last started at is recorded on the host (VERSION_PATH); a target
    below it is refused before anything changes (k3s cannot downgrade its datastore).
    """
    return f"""#!/bin/sh
# Upgrade k3s {node.role} on {_comment(node.name)} to the pinned version. Rendered by k3s-platform.
# Servers upgrade one at a time, agents after every server (Kubernetes version skew policy).
set -eu
node={_sh(node.name)}

{_run_installer(node, cluster.installer)}
{_wait_until_ready(node)}
target={_sh(cluster.k3s_version)}
current=$(sudo cat {VERSION_PATH} 2>/dev/null || /usr/local/bin/k3s --version | awk 'NR == 1 {{ print $3 }}')
if [ "$current" = "$target" ]; then
  echo "k3s on $node: already at $target"
  exit 0
fi
lowest=$(printf '%s\\n%s\\n' "$current" "$target" | sort -V | head -n 1)
if [ "$lowest" = "$target" ]; then
  echo "k3s on $node: runs $current; refusing to go down to $target (k3s cannot downgrade; restore an etcd snapshot instead)" >&2
  exit 1
fi
echo "k3s on $node: upgrading $current -> $target"
run_installer "$target"
wait_until_ready
printf '%s\\n' "$target" | sudo tee {VERSION_PATH} >/dev/null
"""


def uninstall_script(node: Member) -> str:
    """Remove k3s from the host — only if this node still owns it; tolerates k3s already gone.

    Runs only when the node leaves the config (or on destroy), after its Node object was
    deleted (the member step). If another node of the config has since been installed on
    the same host (a rename), that node owns it and nothing is removed.
    """
    script = ROLES[node.role].uninstaller
    return f"""#!/bin/sh
# Uninstall k3s {node.role} from {_comment(node.name)}. Rendered by k3s-platform.
set -eu
node={_sh(node.name)}
owner=$(sudo cat {OWNER_PATH} 2>/dev/null || true)
if [ -n "$owner" ] && [ "$owner" != "$node" ]; then
  echo "this host now runs k3s node $owner, not $node: leaving k3s in place"
  exit 0
fi
if [ -x /usr/local/bin/{script} ]; then
  sudo /usr/local/bin/{script}
else
  echo "k3s is not installed on $node; nothing to remove"
fi
sudo rm -rf {TOKEN_PATH} {CONFIG_PATH} {OWNER_PATH} {VERSION_PATH} {STAGING_DIR}
"""


def member_ready_script(node: Member) -> str:
    """Run on the first server: wait until the node has registered and is Ready."""
    return f"""#!/bin/sh
# Wait for node {_comment(node.name)} to be Ready. Rendered by k3s-platform.
set -eu
node={_sh(node.name)}
i=0
until [ "$(sudo k3s kubectl get node "$node" -o 'jsonpath={{.status.conditions[?(@.type=="Ready")].status}}' 2>/dev/null)" = True ]; do
  i=$((i + 1))
  if [ "$i" -ge 60 ]; then
    echo "node $node did not become Ready within 5 minutes" >&2
    exit 1
  fi
  sleep 5
done
echo "node $node: Ready"
"""


def member_remove_script(node: Member) -> str:
    """Run on the first server before the node's uninstall: drain it and delete its Node.

    Deleting the Node object is what removes a server's etcd member (k3s's etcd finalizer);
    uninstalling alone would leave a dead member behind.
    """
    return f"""#!/bin/sh
# Remove node {_comment(node.name)} from the cluster. Rendered by k3s-platform.
set -eu
node={_sh(node.name)}
if ! sudo k3s kubectl get node "$node" >/dev/null 2>&1; then
  echo "node $node is not in the cluster; nothing to remove"
  exit 0
fi
ready=$(sudo k3s kubectl get node "$node" -o 'jsonpath={{.status.conditions[?(@.type=="Ready")].status}}' 2>/dev/null || true)
if [ "$ready" != True ]; then
  # A dead or unreachable node: its kubelet can confirm no eviction, so a drain only waits out
  # its timeout. Deleting the Node object lets the pod garbage collector remove its pods and
  # the workloads reschedule them elsewhere.
  echo "node $node is not Ready ($ready); deleting it without a drain"
elif ! sudo k3s kubectl drain "$node" --ignore-daemonsets --delete-emptydir-data --timeout=300s; then
  echo "node $node could not be drained (a PodDisruptionBudget?); fix that and run pulumi up again" >&2
  exit 1
fi
sudo k3s kubectl delete node "$node" --wait=true --timeout=120s
echo "node $node: removed from the cluster"
"""


def prepare_script(ssh_user: str) -> str:
    """Give the SSH user a staging directory that CopyToRemote can write to."""
    return f"""#!/bin/sh
# Prepare the k3s-platform staging directory. Rendered by k3s-platform.
set -eu
sudo install -d -m 0755 -o {_sh(ssh_user)} {STAGING_DIR}
"""


# --- the cluster's CAs and kubeconfigs -----------------------------------------------------

# Where k3s looks for its CAs at its first start: when they are there it uses them instead of
# generating its own (k3s's "custom CA certificates"; `k3s certificate rotate-ca` replaces them).
K3S_TLS_DIR = "/var/lib/rancher/k3s/server/tls"
# Each CA by its resource name and its path under K3S_TLS_DIR (`.crt` and `.key`).
CLUSTER_CAS = (
    ("server-ca", "server-ca"),
    ("client-ca", "client-ca"),
    ("request-header-ca", "request-header-ca"),
    ("etcd-peer-ca", "etcd/peer-ca"),
    ("etcd-server-ca", "etcd/server-ca"),
)
# The key the API server signs service-account tokens with (and checks them against).
SERVICE_ACCOUNT_KEY = "service.key"
# Read back from a cluster whose CAs k3s made (certificateAuthorities: adopt): what a
# kubeconfig and the people's certificates need, nothing more.
ADOPTED_FILES = ("server-ca.crt", "client-ca.crt", "client-ca.key")
BUNDLE_MARK = "K3SP-FILE "


def ca_files() -> tuple[str, ...]:
    """Every file the program puts under K3S_TLS_DIR, by relative path."""
    return tuple(f"{path}.{ext}" for _, path in CLUSTER_CAS for ext in ("crt", "key")) + (SERVICE_ACCOUNT_KEY,)


def ca_bundle(files: dict[str, str]) -> str:
    """Several PEM files as one text for a command's standard input (never a command line):
    a `K3SP-FILE <path>` line before each file's PEM."""
    return "".join(f"{BUNDLE_MARK}{path}\n{pem.strip()}\n" for path, pem in files.items())


def parse_ca_bundle(text: str, expected: tuple[str, ...]) -> dict[str, str]:
    """The files of a bundle (`ca_bundle`'s format); a missing or empty one is an error that
    names it (a cluster whose CAs are elsewhere, or a read that went wrong)."""
    files: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith(BUNDLE_MARK):
            current = files.setdefault(line[len(BUNDLE_MARK):].strip(), [])
        elif current is not None:
            current.append(line)
    out = {path: "\n".join(lines).strip() + "\n" for path, lines in files.items() if "".join(lines).strip()}
    missing = [path for path in expected if path not in out]
    if missing:
        raise ValueError(f"no {', '.join(missing)} under {K3S_TLS_DIR} on the first server")
    return {path: out[path] for path in expected}


def place_cas_script(node: Member) -> str:
    """Run on every server before its install: put the cluster's CAs where k3s looks for them.

    The files arrive on standard input (`ca_bundle`). Nothing is written unless every file
    already there is the same: a server that holds other CAs was installed with k3s's own, so
    the step stops and names the setting that adopts them, before anything changed."""
    files = " ".join(ca_files())
    return f"""#!/bin/sh
# Put the cluster's CAs on {_comment(node.name)} before k3s first starts. Rendered by k3s-platform.
# The CA keys arrive on standard input; they are never echoed or logged.
set -eu
node={_sh(node.name)}
new=$(sudo mktemp -d)
trap 'sudo rm -rf "$new"' EXIT
sudo mkdir -m 0700 "$new/etcd"
sudo awk -v dir="$new" 'index($0, "{BUNDLE_MARK}") == 1 {{ file = dir "/" substr($0, {len(BUNDLE_MARK) + 1}); next }} {{ print > file }}'
others=""
missing=""
for f in {files}; do
  if ! sudo test -s "$new/$f"; then
    echo "k3s CAs for $node: $f missing from the input" >&2
    exit 1
  fi
  if sudo test -e {K3S_TLS_DIR}/"$f"; then
    sudo cmp -s "$new/$f" {K3S_TLS_DIR}/"$f" || others="$others $f"
  else
    missing="$missing $f"
  fi
done
if [ -n "$others" ]; then
  echo "k3s on $node already has other cluster CAs ({K3S_TLS_DIR}:$others): it was installed with k3s's own." >&2
  echo "Set cluster.certificateAuthorities: adopt in the stack config to keep them (docs/operations.md, 'Cluster CAs'); nothing was changed." >&2
  exit 1
fi
for f in $missing; do
  sudo install -D -m 0600 -o root -g root "$new/$f" {K3S_TLS_DIR}/"$f"
done
echo "k3s CAs on $node: in place"
"""


def read_cas_script() -> str:
    """Run once on the first server of an adopted cluster: the CA files a kubeconfig and the
    people's certificates need, in `ca_bundle`'s format."""
    reads = "\n".join(f"printf '{BUNDLE_MARK}%s\\n' {f}\nsudo cat {K3S_TLS_DIR}/{f}" for f in ADOPTED_FILES)
    return f"""#!/bin/sh
# Read the cluster CAs k3s made on the first server (certificateAuthorities: adopt). Rendered by k3s-platform.
set -eu
{reads}
"""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def kubeconfig_yaml(cluster_name: str, server: str, ca_pem: str, cert_pem: str, key_pem: str,
                    user: str, namespace: str | None = None) -> str:
    """A kubeconfig with one cluster, one user (a client certificate) and one context."""
    context: dict = {"cluster": cluster_name, "user": user}
    if namespace:
        context["namespace"] = namespace
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)}}],
        "users": [{"name": user, "user": {"client-certificate-data": _b64(cert_pem), "client-key-data": _b64(key_pem)}}],
        "contexts": [{"name": f"{user}@{cluster_name}", "context": context}],
        "current-context": f"{user}@{cluster_name}",
    }
    return yaml.safe_dump(doc, sort_keys=False)


# --- the cluster token ------------------------------------------------------------------------

# k3s's supervisor API for `k3s token rotate` (pkg/server/handlers/token.go): PUT, basic auth
# as `server` with the current token, body {"newToken": ...}.
TOKEN_API = f"https://127.0.0.1:{API_PORT}/v1-k3s/token"


def rotate_token_script(node: Member) -> str:
    """Run on the first server before the nodes get a new token: rotate the cluster to it.

    Standard input holds two lines, the previous token and the new one. Nothing happens where
    k3s is not installed yet (a new cluster starts with the new token) or the server already
    runs the new one (a retried `up`). The tokens reach curl in its config on stdin, never on a
    command line. Afterwards every server and agent must get the new token and restart, which
    their install steps do next."""
    return f"""#!/bin/sh
# Rotate the cluster token on {_comment(node.name)}. Rendered by k3s-platform.
# The tokens arrive on standard input; they are never echoed or logged.
set -eu
node={_sh(node.name)}
IFS= read -r old
IFS= read -r new
if ! sudo test -f {SERVER_TOKEN_PATH}; then
  echo "k3s on $node is not installed yet: it starts with the new token"
  exit 0
fi
current=$(sudo cat {SERVER_TOKEN_PATH})
case "$current" in
  *"::server:$new") echo "k3s on $node already runs the new token"; exit 0 ;;
  *"::server:$old") ;;
  *) echo "k3s on $node runs neither the previous nor the new token: raise cluster.tokenGeneration one step at a time (docs/operations.md, 'Rotating the cluster token')" >&2
     exit 1 ;;
esac
# curl reads its settings, the tokens among them, from the here-document (stdin), not argv.
sudo curl -K - <<K3SP_CURL
url = "{TOKEN_API}"
request = "PUT"
user = "server:$old"
data = "{{\\"newToken\\":\\"$new\\"}}"
cacert = "{K3S_TLS_DIR}/server-ca.crt"
fail
silent
show-error
K3SP_CURL
case "$(sudo cat {SERVER_TOKEN_PATH})" in
  *"::server:$new") echo "k3s on $node: cluster token rotated" ;;
  *) echo "k3s on $node accepted the rotation but its token file does not hold the new token" >&2; exit 1 ;;
esac
"""


# The first server's secure join token, `K10<sha256 of the cluster CA>::server:<secret>`:
# a joiner given this form checks the CA it is shown against the hash before it trusts the
# server, so a host impersonating apiHostname cannot collect the secret.
SERVER_TOKEN_PATH = "/var/lib/rancher/k3s/server/token"
READ_JOIN_TOKEN = f"""#!/bin/sh
# Read the secure join token of the first server. Rendered by k3s-platform.
set -eu
token=$(sudo cat {SERVER_TOKEN_PATH})
case "$token" in
  K10*::*) printf '%s' "$token" ;;
  *) echo "{SERVER_TOKEN_PATH} holds no secure (CA-pinned) token" >&2; exit 1 ;;
esac
"""


# --- files that carry secrets: registries.yaml and the S3 credentials ----------------------

# k3s reads both at start; both arrive on a step's standard input, never in rendered text.
REGISTRIES_PATH = f"{CONFIG_DIR}/registries.yaml"
SECRETS_DROPIN_PATH = f"{CONFIG_DIR}/config.yaml.d/60-k3s-platform-secrets.yaml"
# Bundle name -> where the file goes; a node's step removes the ones it no longer has.
SECRET_FILES = {"registries.yaml": REGISTRIES_PATH, "etcd-s3.yaml": SECRETS_DROPIN_PATH}
REDACTED = "(from the secret registryAuth)"


def registries_yaml(registries: Registries, auth: dict | None) -> str:
    """k3s's registries.yaml. `auth`: host -> {username, password} from the secret; None
    renders the redacted copy shown in the plan and the step's script."""
    # Ref: https://docs.k3s.io/installation/private-registry
    doc: dict = {}
    if registries.mirrors:
        doc["mirrors"] = {}
        for name, mirror in sorted(registries.mirrors.items()):
            entry: dict = {"endpoint": list(mirror.endpoints)}
            if mirror.rewrite:
                entry["rewrite"] = dict(sorted(mirror.rewrite.items()))
            doc["mirrors"][name] = entry
    if registries.configs:
        doc["configs"] = {}
        for host, config in sorted(registries.configs.items()):
            entry = {}
            if config.auth:
                creds = (auth or {}).get(host) if auth is not None else None
                entry["auth"] = ({"username": creds["username"], "password": creds["password"]} if creds
                                 else {"username": REDACTED, "password": REDACTED})
            tls: dict = {}
            if config.ca_file:
                tls["ca_file"] = config.ca_file
            if config.insecure_skip_verify:
                tls["insecure_skip_verify"] = True
            if tls:
                entry["tls"] = tls
            doc["configs"][host] = entry
    return "# k3s registries, rendered by k3s-platform. Do not edit by hand.\n" + yaml.safe_dump(
        doc, sort_keys=False, default_flow_style=False)


def etcd_s3_secrets_yaml(credentials: dict) -> str:
    """The config drop-in with the S3 credentials (from the secret etcdS3Credentials)."""
    doc = {"etcd-s3-access-key": credentials["accessKey"], "etcd-s3-secret-key": credentials["secretKey"]}
    return "# k3s etcd-s3 credentials, rendered by k3s-platform. Do not edit by hand.\n" + yaml.safe_dump(
        doc, sort_keys=False, default_flow_style=False)


def secret_files_script(node: Member, names: tuple[str, ...], shown: str) -> str:
    """Put the secret-bearing files `names` (SECRET_FILES keys) on the node from standard
    input (`ca_bundle` format); remove the managed ones it no longer has. When one changed on
    a node where k3s runs, restart k3s and wait until it is ready. `shown`: what the plan may
    see of them (registries.yaml with the credentials left out), as a comment: a change in it
    reruns the step."""
    service = ROLES[node.role].service
    comment = ("# Without their secrets:\n" + "".join(f"#   {_comment(line)}\n" for line in shown.splitlines())) if shown else ""
    place = "\n".join(f"place {name} {SECRET_FILES[name]}" for name in names)
    drop = "\n".join(f"drop {path}" for name, path in SECRET_FILES.items() if name not in names)
    return f"""#!/bin/sh
# Put k3s's secret-bearing files on {_comment(node.name)}: {', '.join(names)}. Rendered by k3s-platform.
# Their contents arrive on standard input; they are never echoed or logged.
{comment}set -eu
node={_sh(node.name)}

{_wait_until_ready(node)}
new=$(sudo mktemp -d)
trap 'sudo rm -rf "$new"' EXIT
sudo awk -v dir="$new" 'index($0, "{BUNDLE_MARK}") == 1 {{ file = dir "/" substr($0, {len(BUNDLE_MARK) + 1}); next }} {{ print > file }}'
changed=no
place() {{
  if ! sudo test -s "$new/$1"; then
    echo "k3s files for $node: $1 missing from the input" >&2
    exit 1
  fi
  if ! sudo cmp -s "$new/$1" "$2"; then
    sudo install -D -m 0600 -o root -g root "$new/$1" "$2"
    changed=yes
  fi
}}
drop() {{
  if sudo test -e "$1"; then
    sudo rm -f "$1"
    changed=yes
  fi
}}
{place}
{drop}
if [ "$changed" = yes ] && [ -f {ROLES[node.role].unit_path} ]; then
  echo "k3s on $node: {', '.join(names)} changed, restarting {service}"
  restart_service
  wait_until_ready
else
  echo "k3s files on $node: in place"
fi
"""


def remove_secret_files_script(node: Member) -> str:
    """The step's delete: the settings went from the config; remove the files, restart k3s."""
    paths = " ".join(SECRET_FILES.values())
    return f"""#!/bin/sh
# Remove k3s's secret-bearing files from {_comment(node.name)}. Rendered by k3s-platform.
set -eu
node={_sh(node.name)}

{_wait_until_ready(node)}
sudo rm -f {paths}
if [ -f {ROLES[node.role].unit_path} ]; then
  restart_service
  wait_until_ready
fi
echo "k3s files on $node: removed"
"""
