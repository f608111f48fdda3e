"""`./run policycheck -` reads the manifests from standard input (`helm template ... | ...`)."""

from __future__ import annotations

import subprocess
import sys

import yaml

from tests.policies.helpers import ROOT, good_pod_spec, pod


def policycheck_stdin(text: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.policycheck", "-", *args], cwd=ROOT, input=text,
                          capture_output=True, text=True, timeout=120)


def test_a_root_pod_on_stdin_is_caught_and_a_good_one_passes():
    spec = good_pod_spec()
    spec["securityContext"] = {"seccompProfile": {"type": "RuntimeDefault"}}  # no runAsNonRoot
    bad = policycheck_stdin(yaml.safe_dump(pod(spec, name="root-pod")), "--only", "pod-security")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "root-pod" in bad.stdout and "from 1 files" in bad.stderr
    good = policycheck_stdin(yaml.safe_dump(pod(good_pod_spec(), name="fine")), "--only", "pod-security")
    assert good.returncode == 0, good.stdout + good.stderr


def test_bad_yaml_on_stdin_is_named_as_stdin():
    run = policycheck_stdin("a: [1\n")
    assert run.returncode == 2 and run.stderr.startswith("policycheck: <stdin>:"), run.stderr
    assert "Traceback" not in run.stderr
