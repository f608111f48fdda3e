"""`pod-security-restricted` (guardrails/restricted.py) through the validator the analyzer calls:
each control of the restricted profile, the version gates, Windows pods. The Kubernetes
conformance fixtures run in test_conformance.py."""

from __future__ import annotations

import pytest
from guardrails import restricted
from guardrails._settings import merged

from tests.policies.helpers import WORKLOAD_KINDS, good_pod_spec, messages, pod, run_policy, workload


def test_restricted_passes_compliant_pod_and_flags_each_control():
    assert run_policy(restricted.POLICY, [workload(k) for k in WORKLOAD_KINDS]) == []
    cases = {
        "privileged": lambda s: s["containers"][0]["securityContext"].update(privileged=True),
        "allowPrivilegeEscalation": lambda s: s["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"),
        "drop must include ALL": lambda s: s["initContainers"][0]["securityContext"]["capabilities"].update(drop=[]),
        "capabilities.add": lambda s: s["containers"][0]["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
        "hostNetwork": lambda s: s.update(hostNetwork=True),
        "hostPath": lambda s: s.update(volumes=[{"name": "h", "hostPath": {"path": "/"}}]),
        "hostPort": lambda s: s["containers"][0].update(ports=[{"containerPort": 80, "hostPort": 80}]),
        "seccompProfile": lambda s: s["securityContext"].pop("seccompProfile"),
        "procMount": lambda s: s["containers"][0]["securityContext"].update(procMount="Unmasked"),
        "sysctls": lambda s: s["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]),
        "seLinuxOptions": lambda s: s["securityContext"].update(seLinuxOptions={"user": "root"}),
        "appArmorProfile": lambda s: s["containers"][0]["securityContext"].update(appArmorProfile={"type": "Unconfined"}),
        "httpGet.host": lambda s: s["containers"][0].update(livenessProbe={"httpGet": {"host": "x", "port": 80}}),
    }
    for needle, breaker in cases.items():
        spec = good_pod_spec()
        breaker(spec)
        found = messages(run_policy(restricted.POLICY, workload("CronJob", spec)))
        assert found and all(needle in m for m in found), (needle, found)


def test_restricted_allows_net_bind_service_and_localhost_seccomp():
    spec = good_pod_spec()
    spec["containers"][0]["securityContext"]["capabilities"]["add"] = ["NET_BIND_SERVICE"]
    spec["securityContext"]["seccompProfile"] = {"type": "Localhost", "localhostProfile": "p.json"}
    assert run_policy(restricted.POLICY, pod(spec)) == []


def test_restricted_checks_ephemeral_containers():
    spec = good_pod_spec()
    spec["ephemeralContainers"] = [{"name": "debug", "image": "busybox:1.36"}]
    found = messages(run_policy(restricted.POLICY, pod(spec)))
    assert found and all("ephemeralContainers[0]" in m for m in found)


def test_restricted_version_gates_sysctls_and_host_probes():
    spec = good_pod_spec()
    spec["securityContext"]["sysctls"] = [{"name": "net.ipv4.tcp_rmem", "value": "4096 87380 6291456"}]
    assert run_policy(restricted.POLICY, pod(spec)) == []                      # safe since 1.32
    assert run_policy(restricted.POLICY, pod(spec), {"kubernetesVersion": "1.31"}) != []
    spec = good_pod_spec()
    spec["containers"][0]["readinessProbe"] = {"tcpSocket": {"host": "10.0.0.1", "port": 80}}
    assert run_policy(restricted.POLICY, pod(spec)) != []
    assert run_policy(restricted.POLICY, pod(spec), {"kubernetesVersion": "1.33"}) == []


def test_restricted_rejects_a_bad_version_with_the_field_named():
    with pytest.raises(ValueError, match="kubernetesVersion"):
        restricted.check_restricted("kubernetes:core/v1:Pod", pod(),
                                    merged(restricted.SETTINGS, {"kubernetesVersion": "v1.34"}))


def test_restricted_skips_linux_only_controls_for_windows_pods():
    spec = {"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": True},
            "containers": [{"name": "w", "image": "mcr.microsoft.com/windows/nanoserver:ltsc2022"}]}
    assert run_policy(restricted.POLICY, pod(spec)) == []
    spec["containers"][0]["securityContext"] = {"windowsOptions": {"hostProcess": True}}
    assert "hostProcess" in messages(run_policy(restricted.POLICY, pod(spec)))[0]
