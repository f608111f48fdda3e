"""Kubernetes Pod Security conformance fixtures (../shared/conformance/pss, v1.37) through
`python -m tools.policycheck --only pod-security`, i.e. through the real analyzer server.

Every restricted/fail pod must be rejected — for the control its file name targets — and
every restricted/pass pod accepted, Windows pods included. The fixtures omit resources and
image tags on purpose, hence `--only pod-security`.

Version note: the pack checks Kubernetes 1.34 by default (the pinned k3s minor).
`pass/sysctls1.yaml` uses two sysctls that only Kubernetes 1.37 allows
(net.ipv4.tcp_slow_start_after_idle, net.ipv4.tcp_notsent_lowat), so at 1.34 it is
rejected — correctly for a 1.34 cluster — and accepted with kubernetesVersion "1.37".

The fixtures are not in this repository: without them this module is skipped, saying where
to get them (tests/shared_data.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.policies.helpers import ROOT
from tests.shared_data import shared_path

RESTRICTED = shared_path("conformance/pss/restricted", "Pod Security conformance fixtures",
                         "copy kubernetes/pod-security-admission test/testdata/restricted/v1.37/"
                         "{pass,fail} (commit 8f84a87c7f617f64a4ddc1aea24aeeb7a2e07cb8) there")

# File-name prefix -> text the violation for that control contains.
EXPECTED = {
    "allowprivilegeescalation": "allowPrivilegeEscalation",
    "apparmorprofile": "AppArmor",
    "capabilities_baseline": "capabilities.add",
    "capabilities_restricted": "capabilities",
    "hostnamespaces": "host namespaces",
    "hostpathvolumes": "hostPath",
    "hostports": "hostPort",
    "hostprobesandhostlifecycle": ".host is",
    "privileged": "privileged is true",
    "procmount": "procMount",
    "restrictedvolumes": "uses ",
    "runasnonroot": "runAsNonRoot",
    "runasuser": "runAsUser is 0",
    "seccompprofile": "seccompProfile",
    "selinuxoptions": "seLinuxOptions",
    "sysctls": "sysctl",
    "windowshostprocess": "hostProcess",
}
VERSION_DEPENDENT = {"sysctls1"}   # allowed from Kubernetes 1.37 only


def policycheck(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.policycheck", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def by_object(stdout: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        policy, ref, message = line.split("  ", 2)
        assert policy in ("pods-run-as-non-root", "pod-security-restricted"), line
        found.setdefault(ref.rsplit("/", 1)[-1], []).append(message)
    return found


@pytest.fixture(scope="module")
def fail_run():
    return policycheck("--only", "pod-security", str(RESTRICTED / "fail"))


def fixture_names(folder: str) -> list[str]:
    return sorted(p.stem for p in (RESTRICTED / folder).glob("*.yaml"))


def test_fixture_counts_match_the_readme():
    assert len(fixture_names("fail")) == 76 and len(fixture_names("pass")) == 23


def test_every_restricted_fail_pod_is_rejected_for_its_control(fail_run):
    assert fail_run.returncode == 1, fail_run.stderr
    found = by_object(fail_run.stdout)
    names = fixture_names("fail")
    assert sorted(found) == names
    for name in names:
        prefix = max((p for p in EXPECTED if name.startswith(p)), key=len)
        assert any(EXPECTED[prefix] in m for m in found[name]), (name, found[name])


def test_windows_host_process_pods_fail_on_host_process_itself(fail_run):
    found = by_object(fail_run.stdout)
    for name in ("windowshostprocess0", "windowshostprocess1"):
        assert any("hostProcess" in m for m in found[name])


def test_every_restricted_pass_pod_is_accepted_at_1_34_except_the_1_37_sysctls():
    run = policycheck("--only", "pod-security", str(RESTRICTED / "pass"))
    found = by_object(run.stdout)
    assert set(found) == VERSION_DEPENDENT, run.stdout
    assert all("not a safe sysctl in Kubernetes 1.34" in m for m in found["sysctls1"])
    assert run.returncode == 1


def test_every_restricted_pass_pod_is_accepted_at_1_37(tmp_path):
    config = tmp_path / "k137.json"
    config.write_text(json.dumps({"pod-security-restricted": {"kubernetesVersion": "1.37"}}))
    run = policycheck("--only", "pod-security", "--config", str(config), str(RESTRICTED / "pass"))
    assert run.returncode == 0 and run.stdout == "", run.stdout + run.stderr
    assert "23 objects" in run.stderr


def test_windows_base_pod_is_in_the_pass_set():
    # base_windows.yaml has no container securityContext and no seccomp profile: only the
    # Windows exemption lets it pass, so the pass run above covers it.
    assert "base_windows" in fixture_names("pass")
