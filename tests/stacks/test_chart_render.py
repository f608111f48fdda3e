"""The charts' own objects, rendered by helm from the pinned charts with the program's values,
pass the Kubernetes schema and the policy pack.

Since the charts are `helm.v3.Release`s (docs/adr/0005), a preview shows the pack one Release
per chart, not the objects inside it. This test is where those objects are checked instead:
each stack's Release inputs (chart, version, namespace, values) are handed to a real
`helm template` against a chart repository on 127.0.0.1 serving the local mirror in
`../shared/charts/` (test data of our CI, not part of the product).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.shared_data import required, serve, shared_path
from tools.helm import HelmUnavailable, ensure_helm
from tools.imitations import schemas
from tools.imitations.harness import stack_config
from tools.imitations.policy_runner import check_resources, manifest_resources
from tools.plan.render import k8s_objects

CHARTS = shared_path("charts/index.yaml", "the local chart repository (index.yaml and both chart archives)",
                     "it is our CI's test data; any Helm repository serving both pinned charts will do").parent
RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.fixture(scope="module")
def chart_repo():
    with serve(CHARTS) as url:
        yield url


@pytest.fixture(scope="module")
def helm():
    try:
        return ensure_helm()
    except HelmUnavailable as err:
        if required():
            pytest.fail(f"K3SP_REQUIRE_SHARED=1: {err}", pytrace=False)
        pytest.skip(str(err))


def rendered_chart_objects(run, helm: Path, repo: str, tmp: Path, minor: str) -> list[dict]:
    objects = []
    for reg in run.by_type(RELEASE):
        inputs = reg.inputs
        values = tmp / f"{reg.name}.yaml"
        values.write_text(yaml.safe_dump(inputs.get("values") or {}))
        proc = subprocess.run(
            [str(helm), "template", inputs["name"], inputs["chart"], "--repo", repo,
             "--version", inputs["version"], "--namespace", inputs["namespace"],
             "--kube-version", f"{minor}.0", "--include-crds", "-f", str(values),
             # What a live API server's discovery offers; offline helm knows only group
             # versions, and Traefik's PDB template asks for the resource.
             "--api-versions", "policy/v1/PodDisruptionBudget"],
            capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"helm template {inputs['chart']}: {proc.stderr}"
        objects += [d for d in yaml.safe_load_all(proc.stdout) if d]
    return objects


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_chart_objects_pass_schema_and_policies(stack, chart_repo, helm, tmp_path, request):
    run = request.getfixturevalue(f"{stack}_run")
    releases = run.by_type(RELEASE)
    assert sorted(r.inputs["chart"] for r in releases) == ["cert-manager", "traefik"]

    minor = stack_config(stack).cluster.kubernetes_minor  # the stack's k3s minor, e.g. v1.34
    charts = rendered_chart_objects(run, helm, chart_repo, tmp_path, minor)
    kinds = {o["kind"] for o in charts}
    assert {"Deployment", "CustomResourceDefinition", "Service"} <= kinds, kinds
    assert len(charts) > 50  # both charts, CRDs included

    assert schemas.validate_all(charts, minor) == []

    # The chart objects go to the pack together with the program's own objects (the
    # namespaces, quotas and limits they run under), as one stack, like a real preview would.
    own = k8s_objects(run)
    resources = manifest_resources(own + charts, stack=stack)
    violations = [v for v in check_resources(resources, stack=stack) if v.enforcement == "mandatory"]
    assert violations == [], "\n".join(f"{v.policy} {v.urn} {v.message}" for v in violations)
