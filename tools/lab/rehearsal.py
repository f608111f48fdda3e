"""A rehearsal of one stack: the real program under the real engine (`pulumi up` through the
Automation API's inline program, the policy pack on), against a replica of its hardware.

- **Hosts**: one network namespace per node of the config, addressed as the config says, on a
  bridge holding the nodes' gateway address, each running a real sshd set up as Debian ships it
  (tests/engine/ssh_hosts.py) and reached as the config's `ssh.user` on `ssh.port`, its host key
  pinned in the rehearsed config. k3s comes the air-gapped way: the lab puts the binary of the
  config's version and the installer on each host (tools/lab/node_standins.py).
- **k3s**: when the first server's service starts, a real control plane starts in its namespace
  from the CAs on that host (tools/lab/k3s_standin.py); nodes register as kwok nodes.
- **Router**: the fake pfSense API (tests/network/fake_pfrest.py) on 127.0.0.1, holding a few
  objects of "another admin" that the stack must leave alone.
- **Names**: the lab runs in a private mount namespace whose /etc/hosts resolves
  `cluster.apiHostname` where the router's DNS override points it; on prod, where that is the
  router (HAProxy), a TCP relay on the router's address stands in for HAProxy's API frontend.
- **Charts**: the local chart repository of ../shared/charts, served on 127.0.0.1.

What differs from the operator's config (the lab overlay, `lab_config`): `router.apiUrl` and
`router.caBundle` (the fake), `charts.repository`, `cluster.installer.source: airgap` and each
node's `hostKey`. Everything else is the config as given.
"""

from __future__ import annotations

import copy
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import yaml

from tools.engine import inline
from tools.lab import node_standins
from tools.lab.certs import make_pki
from tools.lab.k3s_standin import StandInK3s

MOUNT_NS_ENV = "K3SP_LAB_MOUNT_NS"
HOSTS_FILE = Path("/etc/hosts")
# Objects another admin keeps on the router: the stack must never touch them.
FOREIGN = {
    "host_override": {"host": "nas", "domain": "home.example.net", "ip": ["192.168.20.5"],
                      "descr": "the NAS (not k3s-platform)", "aliases": []},
    "firewall_alias": {"name": "backup_hosts", "type": "host", "address": ["192.168.20.5"],
                       "descr": "another admin's alias", "detail": [""]},
}


class RehearsalError(Exception):
    pass


def in_private_mount_namespace() -> bool:
    return os.environ.get(MOUNT_NS_ENV) == "1"


def reexec_in_private_mount_namespace(argv: list[str]) -> None:
    """Run this command again in a private mount namespace (the lab's /etc/hosts is its own)."""
    if os.geteuid() != 0:
        raise RehearsalError("the rehearsal lab needs root (network and mount namespaces): run it as root")
    if shutil.which("unshare") is None:
        raise RehearsalError("unshare not found: apt-get install util-linux")
    env = dict(os.environ, **{MOUNT_NS_ENV: "1"})
    os.execvpe("unshare", ["unshare", "--mount", "--propagation", "private", *argv], env)


class PrivateHosts:
    """/etc/hosts of this mount namespace: the machine's entries plus the lab's names."""

    def __init__(self, path: Path) -> None:
        if not in_private_mount_namespace():
            raise RehearsalError(f"the lab's names need a private mount namespace ({MOUNT_NS_ENV}=1): "
                                 "run through ./run lab")
        self.path = path
        self.base = HOSTS_FILE.read_text()
        path.write_text(self.base)
        proc = subprocess.run(["mount", "--bind", str(path), str(HOSTS_FILE)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RehearsalError(f"mount --bind {path} /etc/hosts failed: {proc.stderr.strip()}")

    def set(self, names: dict[str, str]) -> None:
        lines = "".join(f"{ip} {name}\n" for name, ip in sorted(names.items()))
        with self.path.open("w") as fh:  # in place: the bind mount shows this inode
            fh.write(self.base + "# k3s-platform rehearsal\n" + lines)

    def close(self) -> None:
        self.set({})
        subprocess.run(["umount", str(HOSTS_FILE)], capture_output=True)


class TcpRelay:
    """The router's HAProxy API frontend, as far as the lab needs it: TCP from the router's
    address on the nodes' network to the control plane (`target()` says where it runs)."""

    def __init__(self, address: tuple[str, int], target) -> None:
        self.target = target
        self.server = socket.create_server(address, reuse_port=False)
        self.server.settimeout(0.5)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True, name="haproxy-stand-in")
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                continue
            target = self.target()
            if target is None:
                client.close()
                continue
            threading.Thread(target=self._pipe_both, args=(client, target), daemon=True).start()

    @staticmethod
    def _pipe_both(client: socket.socket, target: tuple[str, int]) -> None:
        try:
            upstream = socket.create_connection(target, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)

        def pipe(a: socket.socket, b: socket.socket) -> None:
            try:
                while data := a.recv(65536):
                    b.sendall(data)
            except OSError:
                pass
            finally:
                for s in (a, b):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)

    def close(self) -> None:
        self._stop.set()
        self.server.close()
        self.thread.join(timeout=5)


def sweep(work: Path) -> list[str]:
    """End what an interrupted rehearsal in `work` left running: its processes (their command
    lines name `work`) and the lab's network namespaces and bridge. Returns what it ended."""
    ended = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(work) in cmdline:
            try:
                os.kill(int(proc.name), 9)
                ended.append(cmdline.split(" ", 1)[0])
            except OSError:
                pass
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    for name in names:
        if name.startswith("k3sp-"):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
            ended.append(f"netns {name}")
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout.splitlines()
    for line in links:
        name = line.split(":", 2)[1].strip().split("@", 1)[0] if line.count(":") >= 2 else ""
        if name.startswith("k3sp-"):
            subprocess.run(["ip", "link", "del", name], capture_output=True)
            ended.append(f"link {name}")
    return ended


def read_doc(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text()) or {}
    if not isinstance(doc.get("config"), dict):
        raise RehearsalError(f"{path}: no `config:` mapping")
    return doc


def lab_config(doc: dict, *, router_url: str, router_ca: str, charts_url: str,
               host_keys: dict[str, str]) -> dict:
    """The lab overlay on an operator's stack config (see the module's docstring)."""
    doc = copy.deepcopy(doc)
    config = doc["config"]
    router = config.setdefault("k3s-platform:router", {})
    router.update(apiUrl=router_url, caBundle=router_ca, retries=1)
    config["k3s-platform:charts"] = dict(config.get("k3s-platform:charts") or {}, repository=charts_url)
    cluster = config["k3s-platform:cluster"]
    cluster["installer"] = {"source": "airgap", **{k: v for k, v in (cluster.get("installer") or {}).items()
                                                   if k == "scriptPath"}}
    for node in (*cluster.get("servers", []), *cluster.get("agents", [])):
        if node["name"] in host_keys:
            node["hostKey"] = host_keys[node["name"]]
    return doc


class Rehearsal:
    """One stack's replica and its engine stack. `deploy(doc)` makes the hosts the config
    names (new ones get fresh hosts), puts k3s where the air-gap install wants it, and returns
    an EngineStack on the lab config of `doc`; `preview`/`up` run it."""

    def __init__(self, stack: str, work: Path, doc: dict, charts_url: str,
                 echo=None) -> None:
        from tests.engine.ssh_hosts import SshLan, missing
        from tests.network.fake_pfrest import API_KEY, FakePfRest
        from tools.imitations.harness import stack_config

        why = missing()
        if why:
            raise RehearsalError(why)
        self.stack, self.work, self.echo = stack, work, echo
        sweep(work)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        self.api_key = API_KEY
        pki = make_pki(work / "router-pki", "10.43.0.0/16")
        self.router_ca = (work / "router-pki" / "ca.crt").read_text()
        self.router = FakePfRest(apply_polls=1).start(tls=(str(pki.serving_cert), str(pki.serving_key)))
        for kind, obj in FOREIGN.items():
            self.router.objects[kind].append(dict(obj))
        self.foreign = copy.deepcopy({k: list(v) for k, v in self.router.objects.items() if v})
        self.charts_url = charts_url
        self.doc = doc
        self._stack_config = stack_config
        config = self._config(doc)
        net = config.node_network
        self.lan = SshLan(work / "lan", str(net.gateway), net.cidr.prefixlen,
                          user=config.cluster.ssh.user, port=config.cluster.ssh.port)
        node_ips = [str(n.ip) for n in config.cluster.nodes]
        self.k3s = StandInK3s(work / "k3s", str(config.cluster.service_cidr), str(config.cluster.pod_cidr), node_ips)
        self.hosts_file = PrivateHosts(work / "hosts")
        self.relay: TcpRelay | None = None
        self.last_config: Path | None = None  # the lab config of the last engine stack made
        self.deployed_config: Path | None = None  # the lab config of the last `up`
        self.current: inline.EngineStack | None = None

    def _config(self, doc: dict):
        """The program's typed config of `doc` (its errors are the program's own)."""
        path = self.work / "configs" / "as-given.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return self._stack_config(self.stack, path)

    # --- the replica ---------------------------------------------------------------------

    def _ensure_hosts(self, config) -> None:
        by_ip = {h.ip: h for n, h in self.lan.hosts.items() if n not in self.k3s.dead}
        for node in config.cluster.nodes:
            # A node renamed in the config is still the same machine at the same address.
            host = self.lan.hosts.get(node.name) or by_ip.get(str(node.ip))
            if host is None and not node.dead:
                host = self.lan.add(node.name, str(node.ip))
                node_standins.equip(host.host)
                self.k3s.add_host(host)
            if host is not None and node.name not in self.k3s.dead:
                node_standins.place_airgap(host.host, config.cluster.k3s_version, config.cluster.installer.script_path)

    def _names(self, config) -> None:
        """apiHostname where the router's DNS override points it (its inventory's api_address)."""
        inventory = config.router_inventory
        self.hosts_file.set({config.cluster.api_hostname: str(inventory.api_address)})
        if inventory.api_address == config.node_gateway and self.relay is None:
            self.relay = TcpRelay((str(inventory.api_address), 6443), self._api_target)

    def _api_target(self):
        plane = self.k3s.control_plane
        return (plane.host, plane.api_port) if plane is not None else None

    def stop_host(self, name: str) -> None:
        """The host dies: sshd and its address go, its kubelet stops."""
        self.k3s.host_died(name)
        self.lan.stop(name)

    def engine(self, doc: dict, label: str) -> inline.EngineStack:
        """The engine stack on the lab config of `doc` (hosts made for its nodes first)."""
        config = self._config(doc)
        self._ensure_hosts(config)
        self._names(config)
        keys_by_ip = {h.ip: h.host_key_public for h in self.lan.hosts.values()}
        host_keys = {n.name: keys_by_ip[str(n.ip)] for n in config.cluster.nodes if str(n.ip) in keys_by_ip}
        lab_doc = lab_config(doc, router_url=self.router.https_url, router_ca=self.router_ca,
                             charts_url=self.charts_url, host_keys=host_keys)
        path = self.work / "configs" / f"{label}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump(lab_doc, sort_keys=False))
        self.doc = doc
        self.current = inline.EngineStack(
            self.stack, self.work / "engine", config_file=path,
            secrets={"sshPrivateKey": self.lan.private_key, "pfsenseApiKey": self.api_key}, echo=self.echo)
        # The stack file as the CLI keeps it (the secrets encrypted in it): what the offline
        # change mode reads, as it would in the operator's repository.
        engine_file = path.with_suffix(".engine.yaml")
        shutil.copy(self.work / "engine" / "project" / f"Pulumi.{self.stack}.yaml", engine_file)
        self.last_config = engine_file
        return self.current

    def state(self) -> list[dict]:
        """The resources of the stack's state (the last engine stack's)."""
        if self.current is None:
            return []
        return list(self.current.export().get("resources", []))

    # --- what the replica holds ------------------------------------------------------------

    def ours(self) -> dict[str, list[dict]]:
        """The router's objects that are not another admin's."""
        out: dict[str, list[dict]] = {}
        for kind, rows in self.router.objects.items():
            theirs = self.foreign.get(kind, [])
            mine = [r for r in rows if _without_id(r) not in [_without_id(f) for f in theirs]]
            if mine:
                out[kind] = mine
        return out

    def foreign_intact(self) -> bool:
        return all(any(_without_id(r) == _without_id(f) for r in self.router.objects.get(kind, []))
                   for kind, rows in self.foreign.items() for f in rows)

    def close(self) -> None:
        for part in (self.relay, self.k3s):
            if part is not None:
                part.close()
        self.lan.close()
        self.router.stop()
        self.hosts_file.close()


def _without_id(row: dict) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "id"}
