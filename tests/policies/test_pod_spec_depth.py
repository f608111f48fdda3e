"""Issue 27, cause 10: pod templates are found at any depth, also under keys named like a
ConfigMap's payload (only an object's own top-level `data`/`stringData`/`binaryData` is skipped)."""

from __future__ import annotations

import pytest
from guardrails import _k8s

_POD = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}


@pytest.mark.parametrize("props,path", [
    ({"spec": {"data": {"template": _POD}}}, "spec.data.template.spec"),
    ({"spec": {"stringData": [{"template": _POD}]}}, "spec.stringData[0].template.spec"),
    ({"spec": {"binaryData": {"data": _POD}}}, "spec.binaryData.data.spec"),
    ({"data": {"x": "y"}, "spec": {"workers": {"data": {"pod": _POD}}}}, "spec.workers.data.pod.spec"),
])
def test_pod_templates_under_data_keys_are_found_at_any_depth(props, path):
    found = [p.path for p in _k8s.pod_specs("kubernetes:example.org/v1:Workload", {"kind": "Workload", **props})]
    assert found == [path]


def test_a_configmaps_own_data_is_still_skipped():
    props = {"kind": "ConfigMap", "data": {"spec": {"containers": [{"name": "c"}]}}}
    assert list(_k8s.pod_specs("kubernetes:core/v1:ConfigMap", props)) == []


def test_policycheck_reports_a_privileged_pod_under_spec_data(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    manifest = tmp_path / "cr.yaml"
    manifest.write_text("apiVersion: example.org/v1\nkind: Workload\nmetadata: {name: w, namespace: team-a}\n"
                        "spec:\n  data:\n    template:\n      spec:\n        containers:\n"
                        "          - {name: c, image: 'nginx:1.27', securityContext: {privileged: true}}\n")
    run = subprocess.run([sys.executable, "-m", "tools.policycheck", str(manifest)], cwd=root, capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=str(root)), timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "spec.data.template.spec.containers[0] ('c'): securityContext.privileged is true" in run.stdout
