"""Start and stop one lab control plane: a real etcd and a real kube-apiserver on 127.0.0.1.

Plus kube-controller-manager with only the controllers admission leans on (``serviceaccount``:
each namespace's ``default`` ServiceAccount, without which the ServiceAccount admission plugin
refuses every pod; ``resourcequota``: a quota's ``status.hard``, without which the
ResourceQuota plugin constrains nothing — both measured in the lab; ``namespace``: deletion). No kubelet and
no scheduler: objects are stored and admitted, pods never run. Each
lab gets its own temporary directory (PKI, etcd data, logs, kubeconfig, ``state.json`` with
the PIDs) and random free ports; ``stop`` ends exactly the PIDs it recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tools.lab import binaries
from tools.lab.certs import Pki, make_pki, pki_files
from tools.paths import ROOT

# The admission plugins the lab asks for on top of the defaults. PodSecurity, LimitRanger,
# ResourceQuota, NamespaceLifecycle and ServiceAccount are all in 1.34's default-enabled set
# (pkg/kubeapiserver/options/plugins.go, DefaultOffAdmissionPlugins); they are named here so
# the lab does not depend on that list.
CONTROLLERS = ("serviceaccount", "resourcequota", "namespace")
# With nodes (kwok), workloads run: these make Deployments, DaemonSets, StatefulSets and Jobs
# produce pods, Services get endpoints, dead nodes are noticed, and owned objects are collected.
WORKLOAD_CONTROLLERS = CONTROLLERS + (
    "deployment", "replicaset", "garbagecollector", "nodelifecycle", "daemonset", "statefulset", "job",
    "endpointslice", "endpoint")
# kwok's own stage files (its module, in the shared Go module cache): nodes become Ready and
# keep a lease; pods are created, become Ready, complete (Job pods) and are deleted.
KWOK_STAGES = ("kustomize/stage/node/fast/node-initialize.yaml",
               "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
               "kustomize/stage/pod/general/pod-create.yaml",
               "kustomize/stage/pod/general/pod-init-container-running.yaml",
               "kustomize/stage/pod/general/pod-init-container-completed.yaml",
               "kustomize/stage/pod/general/pod-ready.yaml",
               "kustomize/stage/pod/general/pod-complete.yaml",
               "kustomize/stage/pod/general/pod-delete.yaml")
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
ADMISSION_PLUGINS = ("NamespaceLifecycle", "LimitRanger", "ServiceAccount", "PodSecurity", "ResourceQuota",
                     # what the program adds on every server (components/cluster/render.py)
                     "NodeRestriction", "DenyServiceExternalIPs")


class LabError(Exception):
    pass


@dataclass
class Lab:
    workdir: str
    kubeconfig: str
    api_port: int
    etcd_port: int
    pids: dict[str, int]
    service_cidr: str
    peer_port: int = 0
    started_seconds: float = 0.0
    # (name, ip, labels) of kwok nodes; with nodes the lab also runs the scheduler, kwok, the
    # workload controllers and the ServiceLB stand-in.
    nodes: list = field(default_factory=list)
    # Where it serves: 127.0.0.1, or (a rehearsal) a node's address inside that node's network
    # namespace, with the PKI made from the cluster's own CAs and the workloads always on.
    host: str = "127.0.0.1"
    netns: str = ""
    workloads: bool = False
    node_ips: list = field(default_factory=list)  # the ServiceLB stand-in's addresses
    pod_cidr: str = "10.244.0.0/16"
    api_args: list = field(default_factory=list)  # extra kube-apiserver flags (k3s's kube-apiserver-arg)

    @property
    def server(self) -> str:
        return f"https://{self.host}:{self.api_port}"

    def command(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *argv] if self.netns else argv

    def save(self) -> Path:
        path = Path(self.workdir) / "state.json"
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: Path) -> Lab:
        return cls(**json.loads(path.read_text()))

    def kubectl(self, *args: str, input: str | None = None, check: bool = False,
                timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [str(binaries.ensure_kubectl()), "--kubeconfig", self.kubeconfig, *args]
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise LabError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def alive(self) -> bool:
        return all(_is_ours(pid, name) for name, pid in self.pids.items())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _is_ours(pid: int, name: str) -> bool:
    """True if PID is still the process we started (guards against PID reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return False
    return Path(cmdline).name in (name, f"{name}.partial")


def _wait(url: str, *, context: ssl.SSLContext | None, deadline: float, what: str, log: Path,
          proc: subprocess.Popen) -> None:
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"{what} exited ({proc.returncode}); last log lines:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, context=context, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError) as err:
            last = str(err)
        time.sleep(0.2)
    raise LabError(f"{what} not ready at {url} ({last}); last log lines:\n{_tail(log)}")


def _tail(log: Path, n: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def _kubeconfig(path: Path, server: str, pki) -> None:
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: lab\n  cluster:\n    server: {server}\n    certificate-authority: {pki.ca_cert}\n"
        f"users:\n- name: lab-admin\n  user:\n    client-certificate: {pki.admin_cert}\n"
        f"    client-key: {pki.admin_key}\n"
        "contexts:\n- name: lab\n  context: {cluster: lab, user: lab-admin}\n"
        "current-context: lab\n")
    path.chmod(0o600)


def start(service_cidr: str, *, workdir: Path | None = None, timeout: float = 90,
          nodes: list | None = None) -> Lab:
    """A lab control plane; with `nodes` [(name, ip, labels)], one where workloads run."""
    missing = binaries.missing()
    if missing:
        raise binaries.LabUnavailable(f"lab binaries not built ({', '.join(missing)}): run ./run lab build")
    t0 = time.monotonic()
    wd = Path(workdir or tempfile.mkdtemp(prefix="k3sp-lab-"))
    make_pki(wd / "pki", service_cidr)
    lab = Lab(str(wd), str(wd / "kubeconfig"), _free_port(), _free_port(), {}, service_cidr, _free_port(),
              nodes=[list(n) for n in nodes or []])
    return _launch_recorded(lab, timeout, t0)


def reset(lab: Lab, *, timeout: float = 90) -> Lab:
    """Empty a running lab: stop it, delete etcd's data, start it again on the same ports with
    the same PKI (a KUBECONFIG pointing at it keeps working)."""
    t0 = time.monotonic()
    stop(lab, keep=True)
    shutil.rmtree(Path(lab.workdir) / "etcd-data", ignore_errors=True)
    lab.pids = {}
    return _launch_recorded(lab, timeout, t0)


def _launch_recorded(lab: Lab, timeout: float, t0: float) -> Lab:
    """Start the lab's processes (stopping whatever started if one fails), then record it."""
    try:
        _launch(lab, timeout)
    except BaseException:
        stop(lab)
        raise
    lab.started_seconds = round(time.monotonic() - t0, 2)
    lab.save()
    return lab


def start_on_node(service_cidr: str, *, workdir: Path, pki: Pki, netns: str, host: str,
                  node_ips: list[str], pod_cidr: str, api_args: list[str], timeout: float = 90) -> Lab:
    """A control plane inside a node's network namespace, serving on the node's address at
    k3s's port with the cluster's own CAs (`pki`, tools/lab/certs.from_cluster_cas): what
    k3s's server process runs there. Nodes are registered later, one by one."""
    missing = binaries.missing()
    if missing:
        raise binaries.LabUnavailable(f"lab binaries not built ({', '.join(missing)}): run ./run lab build")
    t0 = time.monotonic()
    lab = Lab(str(workdir), str(workdir / "kubeconfig"), 6443, 2379, {}, service_cidr, 2380,
              host=host, netns=netns, workloads=True, node_ips=list(node_ips), pod_cidr=pod_cidr,
              api_args=list(api_args))
    (workdir / "pki.json").write_text(json.dumps({k: str(v) for k, v in asdict(pki).items()}))
    return _launch_recorded(lab, timeout, t0)


def _pki_of(lab: Lab) -> Pki:
    given = Path(lab.workdir) / "pki.json"
    if given.is_file():
        fields = json.loads(given.read_text())
        paths = {k: Path(v) for k, v in fields.items() if v}
        return Pki(ca_cert=paths["ca_cert"], serving_cert=paths["serving_cert"], serving_key=paths["serving_key"],
                   admin_cert=paths["admin_cert"], admin_key=paths["admin_key"], sa_key=paths["sa_key"],
                   sa_pub=paths["sa_pub"], client_ca=paths.get("client_ca"))
    return pki_files(Path(lab.workdir) / "pki")


def _merged_args(defaults: list[str], extra: list[str]) -> list[str]:
    """k3s's way with kube-apiserver-arg: a flag given again replaces the default."""
    names = {a.lstrip("-").split("=", 1)[0] for a in extra}
    return [a for a in defaults if a.lstrip("-").split("=", 1)[0] not in names] + [f"--{a.lstrip('-')}" for a in extra]


def _launch(lab: Lab, timeout: float) -> None:
    wd, pids, service_cidr = Path(lab.workdir), lab.pids, lab.service_cidr
    pki = _pki_of(lab)
    etcd_port, peer_port, api_port = lab.etcd_port, lab.peer_port, lab.api_port
    etcd_log = wd / "etcd.log"
    etcd_url = f"http://{lab.host}:{etcd_port}"
    peer_url = f"http://{lab.host}:{peer_port}"
    etcd = subprocess.Popen(lab.command(
        [str(binaries.ETCD.path), "--name", "lab", "--data-dir", str(wd / "etcd-data"),
         "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
         "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
         "--initial-cluster", f"lab={peer_url}", "--unsafe-no-fsync", "--log-level", "warn"]),
        stdout=etcd_log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    pids["etcd"] = etcd.pid
    lab.save()
    _wait(f"{etcd_url}/health", context=None, deadline=time.monotonic() + timeout, what="etcd",
          log=etcd_log, proc=etcd)
    api_log = wd / "kube-apiserver.log"
    bind = "0.0.0.0" if lab.netns else lab.host
    api_flags = _merged_args([
         f"--bind-address={bind}", f"--advertise-address={lab.host}", f"--secure-port={api_port}",
         f"--etcd-servers={etcd_url}",
         f"--tls-cert-file={pki.serving_cert}", f"--tls-private-key-file={pki.serving_key}",
         f"--client-ca-file={pki.client_ca_cert}",
         f"--service-account-key-file={pki.sa_pub}", f"--service-account-signing-key-file={pki.sa_key}",
         "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
         "--authorization-mode=Node,RBAC",
         f"--enable-admission-plugins={','.join(ADMISSION_PLUGINS)}",
         f"--service-cluster-ip-range={service_cidr}",
         # k3s lets privileged pods through the API server; Pod Security admission is what
         # must refuse them in a tenant namespace, so the lab does the same.
         "--allow-privileged=true",
         f"--cert-dir={wd / 'apiserver-certs'}", "--profiling=false", "--v=1"], lab.api_args)
    api = subprocess.Popen(lab.command([str(binaries.KUBE_APISERVER.path), *api_flags]),
                           stdout=api_log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    pids["kube-apiserver"] = api.pid
    lab.save()
    _kubeconfig(Path(lab.kubeconfig), lab.server, pki)
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    ctx.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
    _wait(f"{lab.server}/readyz", context=ctx, deadline=time.monotonic() + timeout,
          what="kube-apiserver", log=api_log, proc=api)
    kcm_log = wd / "kube-controller-manager.log"
    workloads = bool(lab.nodes) or lab.workloads
    controllers = WORKLOAD_CONTROLLERS if workloads else CONTROLLERS
    kcm = subprocess.Popen(
        [str(binaries.KUBE_CONTROLLER_MANAGER.path), f"--kubeconfig={lab.kubeconfig}",
         f"--controllers={','.join(controllers)}", "--leader-elect=false", "--secure-port=0",
         f"--service-cluster-ip-range={service_cidr}", "--v=1"],
        stdout=kcm_log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    pids["kube-controller-manager"] = kcm.pid
    lab.save()
    deadline = time.monotonic() + timeout
    while lab.kubectl("get", "serviceaccount", "default", "-n", "default").returncode != 0:
        if kcm.poll() is not None or time.monotonic() > deadline:
            raise LabError(f"kube-controller-manager made no default ServiceAccount; log:\n{_tail(kcm_log)}")
        time.sleep(0.3)
    if workloads:
        _launch_workloads(lab, timeout)


def kwok_stages() -> str:
    """kwok's stage files from its module in the Go module cache (read, never copied)."""
    module = Path(binaries.go_env()["GOMODCACHE"]) / f"sigs.k8s.io/kwok@{binaries.KWOK_VERSION}"
    missing = [f for f in KWOK_STAGES if not (module / f).is_file()]
    if missing:
        raise binaries.LabUnavailable(f"kwok's stage files are not in {module}: run ./run lab build")
    return "\n---\n".join((module / f).read_text() for f in KWOK_STAGES)


def _node_object(name: str, ip: str, labels: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "annotations": {KWOK_ANNOTATION: "fake"},
                         "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": "amd64", "type": "kwok", **labels}},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}],
                       "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                       "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"}}}


def register_node(lab: Lab, name: str, ip: str, labels: dict) -> None:
    """A kwok node under the stack node's name (what a k3s agent's registration would make)."""
    lab.kubectl("apply", "-f", "-", input=json.dumps(_node_object(name, ip, labels)), check=True)


def _launch_workloads(lab: Lab, timeout: float) -> None:
    wd, pids = Path(lab.workdir), lab.pids
    (wd / "kwok.yaml").write_text(kwok_stages())
    procs = {
        "kube-scheduler": [str(binaries.KUBE_SCHEDULER.path), f"--kubeconfig={lab.kubeconfig}",
                           f"--authentication-kubeconfig={lab.kubeconfig}",
                           f"--authorization-kubeconfig={lab.kubeconfig}",
                           "--leader-elect=false", "--secure-port=0", "--v=1"],
        "kwok": [str(binaries.KWOK.path), f"--kubeconfig={lab.kubeconfig}", f"--config={wd / 'kwok.yaml'}",
                 f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}=fake",
                 # Without this kwok keeps no node Lease (its default of 40 comes with a
                 # KwokConfiguration document, which the stage file has not): the heartbeat
                 # stage then updates a node's status only every 10 minutes, and the node
                 # lifecycle controller marks the node NotReady (and its pods unready) after 40 s.
                 "--node-lease-duration-seconds=40",
                 f"--cidr={lab.pod_cidr}", "--node-ip=127.0.0.1"],
        "python": [sys.executable, "-m", "tools.lab.standins", lab.kubeconfig,
                   *(lab.node_ips or [n[1] for n in lab.nodes])],
    }
    for name, cmd in procs.items():
        log = wd / f"{name}.log"
        proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=ROOT)
        pids[name] = proc.pid
        lab.save()
    for name, ip, labels in lab.nodes:
        register_node(lab, name, ip, labels)
    deadline = time.monotonic() + timeout
    while True:
        ready = lab.kubectl("get", "nodes", "-o",
                            "jsonpath={range .items[*]}{.status.conditions[?(@.type=='Ready')].status}{' '}{end}")
        if ready.returncode == 0 and ready.stdout.split().count("True") == len(lab.nodes):
            return
        if time.monotonic() > deadline:
            raise LabError(f"kwok did not make the nodes Ready; log:\n{_tail(wd / 'kwok.log')}")
        time.sleep(0.3)


def stop(lab: Lab, *, keep: bool = False) -> None:
    """SIGTERM the recorded PIDs (API server first), SIGKILL what is left after 10 s, remove the dir."""
    for name in ("python", "kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"):
        pid = lab.pids.get(name)
        if pid is None or not _is_ours(pid, name):
            continue
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _is_ours(pid, name):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    break
            except ChildProcessError:
                pass
            time.sleep(0.1)
        if _is_ours(pid, name):
            os.kill(pid, signal.SIGKILL)
    if not keep:
        shutil.rmtree(lab.workdir, ignore_errors=True)
