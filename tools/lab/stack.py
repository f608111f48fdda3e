"""Put one stack's offline plan into a lab API server and report, object by object, what it did.

Order: the CRDs of the stack's chart Releases (``helm template --include-crds`` of the pinned
charts in the local chart repository with the Releases' own values, waited for until
Established), then the plan's cluster-scoped objects (``manifests/_cluster``), then every
namespace's objects, then the charts' other objects (what the Releases would install). Each object is sent on its
own with server-side apply, so one refusal does not hide the others; the API server's
warnings (Pod Security ``warn`` mode among them) are kept with the object.

The offline plan masks secret values (``stringData: {users: '[secret]'}``); the lab puts stand-in
values under the keys the program writes (components/system/crds.py) before applying.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tools.helm import ensure_helm
from tools.lab import binaries
from tools.lab.cluster import Lab, LabError
from tools.paths import ROOT

CHARTS = Path(os.environ.get("K3SP_SHARED") or ROOT.parent / "shared") / "charts"
FIELD_MANAGER = "k3s-platform-lab"
MASKED = "[secret]"


def stand_in_secret_data(lab: Lab, secret_type: str) -> dict[str, str]:
    """Values under the keys the program writes (crds.ca_secret / crds.basic_auth_secret): for a
    TLS Secret the lab's own throwaway CA pair, so the API server sees real PEM."""
    if secret_type == "kubernetes.io/tls":
        pki = Path(lab.workdir) / "pki"
        cert, key = (pki / "ca.crt").read_text(), (pki / "ca.key").read_text()
        return {"tls.crt": cert, "tls.key": key, "ca.crt": cert}
    return {"users": "lab:$2y$05$standin"}


@dataclass
class Applied:
    path: str
    ok: bool
    stdout: str
    stderr: str

    @property
    def warnings(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("Warning:")]


@dataclass
class StackResult:
    stack: str
    plan_dir: Path
    crds: list[str] = field(default_factory=list)
    applied: list[Applied] = field(default_factory=list)
    chart_objects: list[dict] = field(default_factory=list)
    chart_applied: list[Applied] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def refused(self) -> list[Applied]:
        return [a for a in self.applied if not a.ok]


def write_plan(stack: str, out: Path) -> Path:
    """Run the offline plan of STACK into OUT (python -m tools.plan STACK --out OUT)."""
    proc = subprocess.run([sys.executable, "-m", "tools.plan", stack, "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise LabError(f"plan {stack} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return out


def render_releases(plan_dir: Path) -> list[dict]:
    """The objects of the stack's chart Releases (the plan's ``charts/*.yaml``: chart, version,
    namespace, values), rendered by ``helm template --include-crds`` from the pinned chart
    archives of the local chart repository, as the Helm library would for ``pulumi up``."""
    helm = str(ensure_helm())
    index = yaml.safe_load((CHARTS / "index.yaml").read_text())
    objects: list[dict] = []
    for release_file in sorted((plan_dir / "charts").glob("*.yaml")):
        rel = yaml.safe_load(release_file.read_text())
        [entry] = [e for e in index["entries"][rel["chart"]] if e["version"] == rel["version"]]
        values = release_file.with_suffix(".values.lab")
        values.write_text(yaml.safe_dump(rel.get("values") or {}))
        proc = subprocess.run(
            [helm, "template", rel["name"], str(CHARTS / entry["urls"][0]), "--namespace", rel["namespace"],
             "--include-crds", "-f", str(values), "--kube-version", binaries.KUBERNETES_VERSION,
             # what the live API server's discovery would offer (Traefik's PDB template asks)
             "--api-versions", "policy/v1/PodDisruptionBudget"],
            capture_output=True, text=True, timeout=300)
        values.unlink()
        if proc.returncode != 0:
            raise LabError(f"helm template {rel['chart']} failed: {proc.stderr.strip()[:500]}")
        for doc in yaml.safe_load_all(proc.stdout):
            if doc:
                if doc.get("kind") != "CustomResourceDefinition" and "namespace" not in doc.get("metadata", {}):
                    doc.setdefault("metadata", {})["lab/release-namespace"] = rel["namespace"]
                objects.append(doc)
    return objects


def unmask(lab: Lab, obj: dict) -> dict:
    masked = obj.get("stringData")
    if obj.get("kind") == "Secret" and isinstance(masked, dict) and set(masked.values()) == {MASKED}:
        obj = dict(obj, stringData=stand_in_secret_data(lab, obj.get("type", "Opaque")))
    return obj


def apply_obj(lab: Lab, obj: dict) -> subprocess.CompletedProcess:
    return lab.kubectl("apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", "-",
                       input=yaml.safe_dump(obj))


def manifest_files(plan_dir: Path) -> list[Path]:
    root = plan_dir / "manifests"
    cluster = sorted((root / "_cluster").glob("*.yaml"))
    rest = sorted(p for p in root.rglob("*.yaml") if p.parent.name != "_cluster")
    return cluster + rest


def apply_stack(lab: Lab, stack: str, plan_dir: Path) -> StackResult:
    result = StackResult(stack, plan_dir)
    t0 = time.monotonic()
    rendered = render_releases(plan_dir)
    crds = [o for o in rendered if o["kind"] == "CustomResourceDefinition"]
    result.chart_objects = [o for o in rendered if o["kind"] != "CustomResourceDefinition"]
    for crd in crds:
        proc = apply_obj(lab, crd)
        if proc.returncode != 0:
            raise LabError(f"CRD {crd['metadata']['name']} refused: {proc.stderr.strip()}")
        result.crds.append(crd["metadata"]["name"])
    lab.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s", check=True)
    result.seconds["crds"] = round(time.monotonic() - t0, 2)
    t0 = time.monotonic()
    for path in manifest_files(plan_dir):
        obj = unmask(lab, yaml.safe_load(path.read_text()))
        proc = apply_obj(lab, obj)
        result.applied.append(Applied(str(path.relative_to(plan_dir)), proc.returncode == 0,
                                      proc.stdout.strip(), proc.stderr.strip()))
    result.seconds["apply"] = round(time.monotonic() - t0, 2)
    t0 = time.monotonic()
    for obj in result.chart_objects:
        proc = apply_obj(lab, _namespaced(lab, obj))
        meta = obj["metadata"]
        where = meta.get("namespace") or meta.get("lab/release-namespace")
        result.chart_applied.append(Applied(f"chart {where}: {obj['kind']} {meta['name']}", proc.returncode == 0,
                                            proc.stdout.strip(), proc.stderr.strip()))
    result.seconds["charts"] = round(time.monotonic() - t0, 2)
    return result


_NAMESPACED: dict[str, set[str]] = {}


def _namespaced(lab: Lab, obj: dict) -> dict:
    """Helm leaves metadata.namespace out of a chart's namespaced objects; `helm install` puts
    them in the release namespace. Do the same, asking the API server which kinds are namespaced."""
    obj = dict(obj, metadata=dict(obj["metadata"]))
    release_ns = obj["metadata"].pop("lab/release-namespace", None)
    if release_ns is None:
        return obj
    if lab.kubeconfig not in _NAMESPACED:
        # columns: NAME [SHORTNAMES] APIVERSION NAMESPACED KIND
        proc = lab.kubectl("api-resources", "--namespaced=true", "--no-headers", check=True)
        _NAMESPACED[lab.kubeconfig] = {
            f"{line.split()[-3].rpartition('/')[0]}/{line.split()[-1]}" for line in proc.stdout.splitlines() if line.strip()}
    group = obj["apiVersion"].rpartition("/")[0]
    if f"{group}/{obj['kind']}" in _NAMESPACED[lab.kubeconfig]:
        obj["metadata"]["namespace"] = release_ns
    return obj
