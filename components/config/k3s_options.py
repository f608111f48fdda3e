"""k3s config keys passed through from the stack config (`cluster.k3s`, a node's `k3s`).

k3s reads `/etc/rancher/k3s/config.yaml` as its command-line flags, one key per flag. The
flags of the k3s version this platform pins are data (`k3s_flags.json`, generated from k3s's
own CLI definitions by `tools/k3s_flags.py`; the file says from which source and version).
A key must be a flag of the node's role, of the right kind, and not one the program sets
itself: the program's keys always win, so a conflict is an error that names the config key
that owns it, never a silent override.

Also here, for the change mode (tools/imitations/host_rules.py), what a changed key does to a
running cluster: most restart k3s on the nodes that carry them; some are fixed when the
cluster is created (`FIXED_AT_CREATION`: the change mode refuses them).
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from pathlib import Path
from typing import Any

from components.grammar import Grammar

FLAGS_FILE = Path(__file__).with_name("k3s_flags.json")

# Keys the program renders itself, and where the stack config sets them instead.
PROGRAM_KEYS = {
    "node-name": "the node's `name`",
    "node-ip": "the node's `ip`",
    "token": "the program's cluster token (docs/operations.md, 'Rotating the cluster token')",
    "token-file": "the program's cluster token (docs/operations.md, 'Rotating the cluster token')",
    "agent-token": "the program's cluster token (one token for servers and agents)",
    "agent-token-file": "the program's cluster token (one token for servers and agents)",
    "server": "the program (joiners register at https://<cluster.apiHostname>:6443)",
    "cluster-init": "the program (the first server of an HA cluster bootstraps embedded etcd)",
    "cluster-cidr": "cluster.podCidr",
    "service-cidr": "cluster.serviceCidr",
    "secrets-encryption": "cluster.secretsEncryption",
    "write-kubeconfig-mode": "the program (0600: the kubeconfig holds an admin credential)",
    "node-label": "the node's `labels`",
    "node-taint": "the node's `taints`",
    "etcd-snapshot-schedule-cron": "cluster.etcdSnapshots.schedule",
    "etcd-snapshot-retention": "cluster.etcdSnapshots.retention",
    "etcd-disable-snapshots": "cluster.etcdSnapshots.enabled",
    "private-registry": "cluster.registries (rendered to /etc/rancher/k3s/registries.yaml)",
}
# Every etcd-s3* key belongs to cluster.etcdSnapshots.s3.
S3_PREFIX = "etcd-s3"
# Keys the program's scripts and records rely on, or that a config file must never hold.
REFUSED_KEYS = {
    "config": "it would point k3s away from the file the program writes",
    "data-dir": "the program's CAs, token, snapshots and uninstall rely on /var/lib/rancher/k3s",
    "https-listen-port": "the program, the router's HAProxy and every kubeconfig use port 6443",
    "with-node-id": "it renames the node; the program's member and labels steps address it by name",
    "cluster-reset": "a one-off restore step (docs/operations.md, etcd restore), not a setting: in "
                     "config.yaml it would reset the cluster on every start",
    "cluster-reset-restore-path": "a one-off restore step (docs/operations.md, etcd restore), not a setting",
    "datastore-endpoint": "the program runs SQLite (one server) or embedded etcd (HA); an external "
                          "datastore is not supported",
    "datastore-cafile": "the program runs SQLite or embedded etcd; an external datastore is not supported",
    "datastore-certfile": "the program runs SQLite or embedded etcd; an external datastore is not supported",
    "datastore-keyfile": "the program runs SQLite or embedded etcd; an external datastore is not supported",
    "rootless": "the program's scripts run k3s as root through systemd",
    "docker": "deprecated in k3s: k3s runs containerd",
    "vpn-auth": "it holds a secret, and config.yaml lands in the plan — use vpn-auth-file with a file "
                "you place on the nodes",
}
# Lists the program fills and the user may add to; for `*-arg` lists one entry per flag name
# (`name=value`), so the user's entry for a name the program sets is a conflict.
ADDITIVE_LISTS = {"disable", "tls-san", "kube-apiserver-arg"}
# The `*-arg` entries the program renders (components/cluster/render.py), by flag name.
PROGRAM_ARGS = {
    "kube-apiserver-arg": {
        "enable-admission-plugins": "the program (NodeRestriction and DenyServiceExternalIPs; "
                                    "docs/operations.md)",
    },
}
# Settings k3s requires to be the same on every server (pkg/daemons/config/types.go,
# CriticalControlArgs: a joining server with another value is refused), plus `disable`, whose
# `servicelb` entry is one of them: never per node.
CRITICAL_SERVER_KEYS = frozenset({
    "cluster-dns", "cluster-domain", "disable-cloud-controller", "disable-helm-controller",
    "disable-network-policy", "secrets-encryption-provider", "embedded-registry", "flannel-backend",
    "flannel-ipv6-masq", "flannel-external-ip", "egress-selector-mode", "supervisor-metrics", "disable",
})
# What a change on a running cluster cannot do: the change mode refuses these and says what works.
FIXED_AT_CREATION = {
    "cluster-cidr": "the pod network is fixed when the cluster is created: build a new cluster "
                    "(a new stack) with the new range and move the workloads",
    "service-cidr": "the service network is fixed when the cluster is created: build a new cluster "
                    "(a new stack) with the new range and move the workloads",
    "secrets-encryption": "switch it with `k3s secrets-encrypt enable|disable` then `k3s secrets-encrypt "
                          "reencrypt` on the servers (docs/operations.md), then change the config",
    "cluster-dns": "CoreDNS's service address and every kubelet's resolver are set from it when the "
                   "cluster is created: build a new cluster (a new stack) and move the workloads",
    "cluster-domain": "every Service's DNS name and the kubelets' search domains come from it: build "
                      "a new cluster (a new stack) and move the workloads",
    "flannel-backend": "switching the pod network backend under running pods leaves old interfaces and "
                       "routes behind (k3s maintainers: rebuild the cluster): build a new cluster and "
                       "move the workloads",
}
_DURATION = Grammar(r"([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+")


@cache
def flag_table() -> dict[str, Any]:
    """The pinned k3s version's flags: `{"k3sVersion", "source", "server": {...}, "agent": {...}}`."""
    return json.loads(FLAGS_FILE.read_text(encoding="utf-8"))


def _aliases(role: str) -> dict[str, str]:
    return {alias: name for name, flag in flag_table()[role].items() for alias in flag["aliases"]}


def _kind_problem(kind: str, value: Any) -> str | None:
    if kind == "bool":
        return None if isinstance(value, bool) else "takes true or false"
    if kind == "int":
        return None if isinstance(value, int) and not isinstance(value, bool) else "takes a whole number"
    if kind == "duration":
        is_duration = isinstance(value, str) and bool(_DURATION.match(value))
        return None if is_duration else "takes a Go duration such as 30s, 5m or 1h30m"
    if kind == "list":
        is_list = isinstance(value, str) or (isinstance(value, list) and bool(value)
                                             and all(isinstance(v, str) for v in value))
        return None if is_list else "takes a string or a non-empty list of strings"
    return None if isinstance(value, str) else "takes a string"


def key_problem(role: str, key: str, value: Any, per_node: bool = False) -> str | None:
    """Why `key: value` cannot go into a k3s `role`'s config, or None."""
    flags = flag_table()[role]
    version = flag_table()["k3sVersion"]
    if key.startswith("-"):
        return f"{key!r}: write the flag name without dashes ({key.lstrip('-')!r})"
    if key in PROGRAM_KEYS:
        return f"{key!r} is set by the program from {PROGRAM_KEYS[key]} — set it there"
    if key.startswith(S3_PREFIX):
        return f"{key!r} is set by the program from cluster.etcdSnapshots.s3 — set it there"
    if key in REFUSED_KEYS:
        return f"{key!r} is not accepted: {REFUSED_KEYS[key]}"
    if key not in flags:
        alias = _aliases(role).get(key)
        if alias:
            return f"{key!r} is k3s's short alias of {alias!r} — write {alias!r}"
        other = "agent" if role == "server" else "server"
        if key in flag_table()[other]:
            return (f"{key!r} is a k3s {other} flag; k3s {role} has none of that name (k3s {version}) "
                    f"— move it to cluster.k3s.{other}")
        close = difflib.get_close_matches(key, [f for f in flags if not flags[f]["hidden"]], n=1, cutoff=0.6)
        hint = f" — did you mean {close[0]!r}?" if close else \
            " — see `k3s " + role + " --help` for the flags of that version"
        return f"{key!r} is not a k3s {role} flag (k3s {version}){hint}"
    if flags[key]["hidden"]:
        return f"{key!r} is a hidden (experimental or deprecated) k3s flag in {version} — not accepted"
    if per_node and role == "server" and key in CRITICAL_SERVER_KEYS:
        return (f"{key!r} must be the same on every server (k3s refuses a joining server whose value "
                "differs) — set it in cluster.k3s.server, not per node")
    problem = _kind_problem(flags[key]["kind"], value)
    return f"{key!r} {problem}" if problem else None


def arg_name(entry: str) -> str:
    """The flag an `*-arg` entry sets: `oidc-issuer-url` of `oidc-issuer-url=https://...`."""
    return entry.split("=", 1)[0].lstrip("-")


def as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def merge(program: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """The program's config with the user's keys added: additive lists extended, other keys
    appended. The config rules (`key_problem`, `arg_conflict`) refused every key that would
    change one of the program's values; a key that still collides is a bug, not input."""
    out = dict(program)
    for key in sorted(extra):
        value = extra[key]
        if key in ADDITIVE_LISTS and key in out:
            out[key] = list(dict.fromkeys([*as_list(out[key]), *as_list(value)]))
        elif key in out:
            raise ValueError(f"k3s key {key!r} is the program's own; the config rules should have refused it")
        else:
            out[key] = value
    return out


def arg_conflict(key: str, value: Any) -> str | None:
    """Why an `*-arg` list would change an entry the program renders, or None."""
    owned = PROGRAM_ARGS.get(key, {})
    if not owned or not isinstance(value, str | list):
        return None
    for entry in as_list(value):
        if arg_name(entry) in owned:
            return (f"entry {entry!r} sets {arg_name(entry)!r}, which is set by {owned[arg_name(entry)]} "
                    "— remove that entry")
    return None
