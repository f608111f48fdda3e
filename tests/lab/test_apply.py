"""Scenario (a): the real API server takes every object of each stack's plan.

Each stack is applied into its own fresh lab (server-side apply, one object at a time, after
the charts' CRDs). A refusal, or a Pod Security warning on a workload in a `restricted`
namespace, is reported verbatim.
"""

from __future__ import annotations

import yaml


def test_every_plan_object_is_accepted(stack_lab):
    _lab, result = stack_lab
    assert result.applied, f"{result.stack}: the plan wrote no manifests"
    refused = [f"{a.path}: {a.stderr}" for a in result.refused]
    assert not refused, f"{result.stack}: the API server refused:\n" + "\n".join(refused)


def test_objects_read_back_as_applied(stack_lab):
    lab, result = stack_lab
    # Every applied object is stored and owned by the lab's field manager.
    for a in result.applied:
        proc = lab.kubectl("get", "-f", str(result.plan_dir / a.path), "-o",
                           "jsonpath={.metadata.managedFields[*].manager}")
        assert proc.returncode == 0, f"{a.path}: {proc.stderr}"
        assert "k3s-platform-lab" in proc.stdout.split(), f"{a.path}: managers {proc.stdout!r}"


def test_no_pod_security_warnings_on_plan_workloads(stack_lab):
    _lab, result = stack_lab
    warned = [f"{a.path}: {w}" for a in result.applied for w in a.warnings if "PodSecurity" in w]
    assert not warned, f"{result.stack}: Pod Security warnings:\n" + "\n".join(warned)


def test_charts_crds_established(stack_lab):
    lab, result = stack_lab
    assert any(n.endswith(".cert-manager.io") for n in result.crds), result.crds
    assert any(n.endswith(".traefik.io") for n in result.crds), result.crds
    proc = lab.kubectl("get", "crd", "-o", "name", check=True)
    assert len(proc.stdout.split()) == len(set(result.crds))


def _plan_secret(result) -> dict:
    secrets = [a.path for a in result.applied if "/Secret-" in a.path]
    assert secrets, f"{result.stack}: the plan has no Secret to try"
    return yaml.safe_load((result.plan_dir / secrets[0]).read_text())


def test_a_refusal_is_reported(stack_lab):
    """The apply check is live: a Secret whose stringData is one string, not a map (how the
    plan wrote a masked Secret before it kept the keys), is refused and reported as refused."""
    from tools.lab.stack import MASKED, apply_obj

    lab, result = stack_lab
    broken = _plan_secret(result)
    broken["metadata"]["name"] = "lab-masked-string"
    broken["stringData"] = MASKED
    proc = apply_obj(lab, broken)
    assert proc.returncode != 0, proc.stdout
    assert "stringData" in proc.stderr, proc.stderr


def test_the_plans_masked_secret_is_accepted_as_written(stack_lab):
    """The plan masks a Secret's values but keeps its keys: the API server takes it as it is."""
    from tools.lab.stack import MASKED, apply_obj

    lab, result = stack_lab
    masked = _plan_secret(result)
    assert set(masked["stringData"].values()) == {MASKED}
    masked["metadata"]["name"] = "lab-masked"
    proc = apply_obj(lab, masked)
    assert proc.returncode == 0, proc.stderr


def test_every_chart_object_is_accepted(stack_lab):
    """What the stack's Releases would install (the charts rendered with the program's values)."""
    _lab, result = stack_lab
    assert result.chart_applied, f"{result.stack}: no chart objects rendered"
    refused = [f"{a.path}: {a.stderr}" for a in result.chart_applied if not a.ok]
    assert not refused, f"{result.stack}: the API server refused chart objects:\n" + "\n".join(refused)


def test_no_pod_security_warnings_on_chart_workloads(stack_lab):
    _lab, result = stack_lab
    warned = [f"{a.path}: {w}" for a in result.chart_applied for w in a.warnings if "PodSecurity" in w]
    assert not warned, f"{result.stack}: Pod Security warnings:\n" + "\n".join(warned)
