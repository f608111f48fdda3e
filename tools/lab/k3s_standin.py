"""The rehearsal's stand-in for what k3s does when its service starts on a host.

The hosts' `systemctl start k3s|k3s-agent` (tools/lab/node_standins.py) marks the service
running and waits; this loop, in the lab's own process, answers it from the host's files as k3s
would read them:

- the **first server** (no control plane yet): k3s's CAs are read from
  /var/lib/rancher/k3s/server/tls on that host — the ones the program placed, or, if none were
  placed, made there as k3s makes its own — and a control plane (etcd, kube-apiserver,
  controller-manager, scheduler, kwok) starts inside the host's network namespace on its
  address at port 6443, with a serving certificate for the config's `tls-san` names and the
  config's `kube-apiserver-arg`s. Its token file becomes the cluster token
  (/var/lib/rancher/k3s/server/token), and every server gets an admin kubeconfig for `k3s
  kubectl`.
- **any node**: its `token-file` must hold the cluster's token (k3s refuses a joiner
  otherwise), then a kwok Node registers under the config's `node-name` with its `node-ip`, its
  `node-label`s and `node-taint`s (k3s applies those at registration only) and k3s's role
  labels. A restart of a registered node changes nothing on its Node.
- a host that **dies** (`host_died`): its Node stops being kept alive by kwok, so the node
  lifecycle controller turns it NotReady, as for a powered-off machine.
- when no server runs k3s any more (uninstalled), the control plane stops.

One control plane stands for all servers: embedded etcd's quorum and the API server's fail-over
are not modelled (tools/lab/README.md).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import yaml

from components.cluster import render
from tools.lab import certs, cluster

SERVICES = ("k3s", "k3s-agent")
ROLE_LABELS = {"k3s": {"node-role.kubernetes.io/control-plane": "true", "node-role.kubernetes.io/master": "true"},
               "k3s-agent": {}}


class StandInK3s:
    """Watches the hosts (`add_host`) and plays k3s's part for each service start."""

    def __init__(self, workdir: Path, service_cidr: str, pod_cidr: str, node_ips: list[str]) -> None:
        self.workdir = workdir
        self.service_cidr = service_cidr
        self.pod_cidr = pod_cidr
        self.node_ips = list(node_ips)
        self.hosts: dict[str, Any] = {}  # name -> tests.engine.ssh_hosts.SshHost
        self.dead: set[str] = set()
        self.control_plane: cluster.Lab | None = None
        self.control_host: str | None = None
        self.token: str | None = None
        self.ca_hash: str | None = None
        self.errors: list[str] = []
        self.log: list[str] = []
        self._seen_starts: dict[tuple[str, str], str] = {}
        self._running: dict[tuple[str, str], bool] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="stand-in-k3s", daemon=True)
        self._thread.start()

    # --- the lab's side --------------------------------------------------------------------

    def add_host(self, host) -> None:
        with self._lock:
            self.hosts[host.name] = host

    def host_died(self, name: str) -> None:
        """The host is gone: its kubelet stops, so kwok stops renewing its Node."""
        with self._lock:
            self.dead.add(name)
        lab = self.control_plane
        if lab is not None:
            node = self._registered_name(self.hosts[name])
            # kwok keeps renewing a Lease it holds even when its node no longer matches its
            # selector, so the node lifecycle controller would go on seeing a live kubelet: the
            # lab says what that controller says of a silent kubelet, and kwok stops driving
            # the node (its heartbeat stage only runs on a Ready node).
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            patch = {"status": {"conditions": [{
                "type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                "message": "Kubelet stopped posting node status.", "lastHeartbeatTime": now,
                "lastTransitionTime": now}]}}
            # kwok lets go of the node first (else its initialize stage makes it Ready again)
            lab.kubectl("annotate", "node", node, f"{cluster.KWOK_ANNOTATION}-", check=True)
            time.sleep(1)
            lab.kubectl("patch", "node", node, "--subresource=status", "--type=strategic", "-p", json.dumps(patch),
                        check=True)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self.control_plane is not None:
            cluster.stop(self.control_plane, keep=True)
            self.control_plane = None

    # --- the loop ------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._once()
            except Exception:  # noqa: BLE001 - the loop must keep answering; the error is kept
                self.errors.append(traceback.format_exc())
            self._stop.wait(0.25)

    def _once(self) -> None:
        with self._lock:
            hosts = [h for n, h in self.hosts.items() if n not in self.dead]
        for host in hosts:
            for service in SERVICES:
                state = host.host.state
                running = (state / f"running-{service}").exists()
                if self._running.get((host.name, service)) and not running:
                    self._say(f"{host.name}: {service} stopped")
                self._running[(host.name, service)] = running
                starts = _read(state / f"starts-{service}")
                if running and not (state / f"ready-{service}").exists() and starts is not None:
                    if self._seen_starts.get((host.name, service)) == starts:
                        continue
                    self._seen_starts[(host.name, service)] = starts
                    try:
                        self._start(host, service)
                        (state / f"ready-{service}").touch()
                    except StartRefused as refused:
                        (state / f"failed-{service}").write_text(f"{service} on {host.name}: {refused}\n")
        if self.control_plane is not None and not any(
                (h.host.state / "running-k3s").exists() for h in hosts):
            self._say("no server runs k3s any more: the control plane stops")
            cluster.stop(self.control_plane, keep=True)
            self.control_plane = None
            self.control_host = None
            self.token = None

    def _say(self, line: str) -> None:
        self.log.append(f"{time.strftime('%H:%M:%S')} {line}")

    # --- k3s's start ---------------------------------------------------------------------

    def _start(self, host, service: str) -> None:
        config = host_config(host)
        token = (host.read(config.get("token-file", render.TOKEN_PATH)) or "").strip()
        if not token:
            raise StartRefused("no cluster token at its token-file")
        if service == "k3s" and self.control_plane is None:
            self._start_control_plane(host, config, token)
        elif self.control_plane is None:
            raise StartRefused(f"cannot reach a server at {config.get('server')}: no server runs k3s")
        else:
            self._check_join_token(token)
        self._register(host, service, config)
        if service == "k3s":
            self._give_admin_kubeconfig(host)

    def _start_control_plane(self, host, config: dict, token: str) -> None:
        tls = host.host.root / "lib-up" / "rancher" / "k3s" / "server" / "tls"
        if certs.ensure_k3s_cas(tls):
            self._say(f"{host.name}: no CAs placed; k3s made its own")
        first_service_ip = str(next(ipaddress.ip_network(config.get("service-cidr", self.service_cidr)).hosts()))
        names = [*config.get("tls-san", []), config.get("node-ip", host.ip), "127.0.0.1", first_service_ip,
                 "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 "kubernetes.default.svc.cluster.local"]
        sans = [f"IP:{n}" if _is_ip(n) else f"DNS:{n}" for n in dict.fromkeys(names)]
        workdir = self.workdir / "control-plane"
        pki = certs.from_cluster_cas(workdir / "pki", tls, sans)
        api_args = config.get("kube-apiserver-arg", [])
        self._say(f"{host.name}: control plane starting on {host.ip}:6443")
        self.control_plane = cluster.start_on_node(
            config.get("service-cidr", self.service_cidr), workdir=workdir, pki=pki, netns=host.netns,
            host=host.ip, node_ips=self.node_ips, pod_cidr=config.get("cluster-cidr", self.pod_cidr),
            api_args=list(api_args))
        self.control_host = host.name
        self.token = token
        server_token = host.host.root / "lib-up" / "rancher" / "k3s" / "server" / "token"
        # k3s's full token: K10 + the sha256 of the CA bundle a joiner will be served, then the
        # passphrase; a joiner holding it checks the server's CA before it trusts the server.
        self.ca_hash = hashlib.sha256((tls / "server-ca.crt").read_bytes()).hexdigest()
        server_token.write_text(f"K10{self.ca_hash}::server:{token}\n")
        self._say(f"{host.name}: control plane up in {self.control_plane.started_seconds} s")

    def _check_join_token(self, token: str) -> None:
        """k3s's joiner checks: a full token's CA hash must be the server CA's, and its
        passphrase (or a bare token) the cluster's."""
        passphrase = token
        if token.startswith("K10"):
            ca_hash, sep, rest = token[3:].partition("::")
            if not sep or ca_hash != self.ca_hash:
                raise StartRefused("the token's CA hash does not match the server's CA (k3s refuses to join)")
            passphrase = rest.split(":", 1)[1] if rest.startswith("server:") else rest
        if passphrase != self.token:
            raise StartRefused("the token does not match the cluster's (k3s refuses to join)")

    def _register(self, host, service: str, config: dict) -> None:
        lab = self.control_plane
        assert lab is not None
        name = config.get("node-name", host.name)
        if lab.kubectl("get", "node", name).returncode == 0:
            lab.kubectl("annotate", "node", name, "--overwrite", f"{cluster.KWOK_ANNOTATION}=fake", check=True)
            self._say(f"{host.name}: {service} restarted; Node {name} kept")
            return
        labels = dict(ROLE_LABELS[service])
        if service == "k3s" and ("cluster-init" in config or "server" in config):
            labels["node-role.kubernetes.io/etcd"] = "true"  # embedded etcd: every HA server
        for item in config.get("node-label", []):
            key, _, value = str(item).partition("=")
            labels[key] = value
        node = cluster._node_object(name, config.get("node-ip", host.ip), labels)
        taints = [_taint(t) for t in config.get("node-taint", [])]
        if taints:
            node["spec"] = {"taints": taints}
        lab.kubectl("apply", "-f", "-", input=json.dumps(node), check=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = lab.kubectl("get", "node", name, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
            if ready.stdout.strip() == "True":
                break
            time.sleep(0.3)
        self._say(f"{host.name}: {service} registered Node {name}")

    def _give_admin_kubeconfig(self, host) -> None:
        lab = self.control_plane
        assert lab is not None
        pki = Path(lab.workdir) / "pki"
        text = yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "default",
            "clusters": [{"name": "default", "cluster": {"server": lab.server,
                                                         "certificate-authority": str(pki / "server-ca.crt")}}],
            "users": [{"name": "default", "user": {"client-certificate": str(pki / "admin.crt"),
                                                   "client-key": str(pki / "admin.key")}}],
            "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}]})
        path = host.host.state / "admin.kubeconfig"
        path.write_text(text)
        path.chmod(0o600)

    def _registered_name(self, host) -> str:
        return str(host_config(host).get("node-name") or host.name)


class StartRefused(Exception):
    """What k3s would log and exit on; the host's `systemctl start` fails with it."""


def host_config(host) -> dict:
    """/etc/rancher/k3s/config.yaml and its config.yaml.d drop-ins, merged as k3s merges them
    (a drop-in's key replaces the main file's)."""
    merged: dict = {}
    for path in (render.CONFIG_PATH, render.REGISTRATION_PATH):
        text = host.read(path)
        if text:
            merged.update(yaml.safe_load(text) or {})
    return merged


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _taint(text: str) -> dict:
    key_value, _, effect = str(text).rpartition(":")
    key, _, value = key_value.partition("=")
    return {"key": key, "value": value, "effect": effect} if value else {"key": key, "effect": effect}
