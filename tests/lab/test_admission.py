"""Scenario 6: the real admission chain agrees with the policy pack, in every tenant namespace.

In a namespace of the plan labelled ``pod-security.kubernetes.io/enforce: restricted`` (with
its LimitRange and ResourceQuota applied), the API server must REFUSE a pod that runs as root,
a privileged pod, a pod whose limit is above the LimitRange maximum and a pod that would take
the namespace above its ResourceQuota — each for the reason
the policy names — and ADMIT a compliant pod (it is really created; with no kubelet it never
runs). A control: the same root pod in a namespace without the label is admitted (dry run),
so the refusal comes from the tenant namespace's labels.
"""

from __future__ import annotations

import copy
import time

import pytest
import yaml

from tools.lab.cluster import Lab

IMAGE = "registry.k8s.io/pause:3.10"


def tenant_namespaces(result) -> dict[str, dict]:
    """{namespace: its LimitRange Container limits} for every restricted tenant namespace."""
    out = {}
    manifests = result.plan_dir / "manifests"
    for path in sorted((manifests / "_cluster").glob("Namespace-*.yaml")):
        ns = yaml.safe_load(path.read_text())
        labels = ns["metadata"].get("labels") or {}
        if "k3s-platform/tenant" in labels and labels.get("pod-security.kubernetes.io/enforce") == "restricted":
            [lr] = [yaml.safe_load(p.read_text()) for p in (manifests / ns["metadata"]["name"]).glob("LimitRange-*.yaml")]
            [limits] = [x for x in lr["spec"]["limits"] if x["type"] == "Container"]
            [quota] = [yaml.safe_load(p.read_text()) for p in (manifests / ns["metadata"]["name"]).glob("ResourceQuota-*.yaml")]
            out[ns["metadata"]["name"]] = dict(limits, quota=quota["spec"]["hard"])
    return out


def compliant_pod(name: str, ns: str, limits: dict) -> dict:
    req = limits.get("defaultRequest") or {"cpu": "50m", "memory": "64Mi"}
    lim = limits.get("default") or req
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "app", "image": IMAGE,
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                    "readOnlyRootFilesystem": True},
                "resources": {"requests": dict(req), "limits": dict(lim)},
            }],
        },
    }


def root_pod(ns, limits):
    pod = compliant_pod("lab-root", ns, limits)
    pod["spec"]["securityContext"].update(runAsNonRoot=False, runAsUser=0)
    return pod


def privileged_pod(ns, limits):
    pod = compliant_pod("lab-privileged", ns, limits)
    sc = pod["spec"]["containers"][0]["securityContext"]
    del sc["allowPrivilegeEscalation"]  # false together with privileged is refused by validation, not policy
    sc["privileged"] = True
    return pod


def over_limit_pod(ns, limits):
    pod = compliant_pod("lab-over-limit", ns, limits)
    cpu_max = limits["max"]["cpu"]
    over = f"{int(float(cpu_max) * 2000)}m" if not cpu_max.endswith("m") else f"{int(cpu_max[:-1]) * 2}m"
    pod["spec"]["containers"][0]["resources"]["limits"]["cpu"] = over
    return pod


def _millicores(q: str) -> int:
    return int(q[:-1]) if q.endswith("m") else int(float(q) * 1000)


def over_quota_pod(ns, limits):
    """Every container within the LimitRange maximum, together above the quota's limits.cpu."""
    pod = compliant_pod("lab-over-quota", ns, limits)
    cpu_max, hard = _millicores(limits["max"]["cpu"]), _millicores(limits["quota"]["limits.cpu"])
    template = pod["spec"]["containers"][0]
    pod["spec"]["containers"] = []
    for i in range(hard // cpu_max + 1):
        c = copy.deepcopy(template)
        c["name"] = f"app{i}"
        c["resources"]["limits"]["cpu"] = f"{cpu_max}m"
        c["resources"]["requests"]["cpu"] = "10m"
        pod["spec"]["containers"].append(c)
    return pod


def create(lab: Lab, pod: dict, *, dry_run: bool = False):
    args = ["create", "-f", "-", "-o", "name"] + (["--dry-run=server"] if dry_run else [])
    return lab.kubectl(*args, input=yaml.safe_dump(pod))


def wait_quota_status(lab: Lab, ns: str, timeout: float = 30) -> None:
    """The resourcequota controller fills the quota's status.hard; until then admission refuses pods."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc = lab.kubectl("get", "resourcequota", "-n", ns, "-o", "jsonpath={.items[*].status.hard}")
        sa = lab.kubectl("get", "serviceaccount", "default", "-n", ns)
        if proc.returncode == 0 and proc.stdout.strip() and sa.returncode == 0:
            return
        time.sleep(0.3)
    pytest.fail(f"{ns}: quota status or default ServiceAccount never appeared (controller-manager)")


@pytest.fixture(scope="session")
def tenants(stack_lab):
    lab, result = stack_lab
    found = tenant_namespaces(result)
    assert found, f"{result.stack}: the plan has no restricted tenant namespace"
    for ns in found:
        wait_quota_status(lab, ns)
    return found


REFUSALS = {
    "root": (root_pod, ['violates PodSecurity "restricted:v1.34"', "runAsUser=0"]),
    "privileged": (privileged_pod, ['violates PodSecurity "restricted:v1.34"', "privileged"]),
    "above LimitRange max": (over_limit_pod, ["maximum cpu usage per Container is"]),
    # Enforced only because the resourcequota controller fills the quota's status: with an empty
    # status.hard the ResourceQuota plugin constrains nothing (measured in the lab).
    "above ResourceQuota": (over_quota_pod, ["exceeded quota: quota", "limits.cpu"]),
}


@pytest.mark.parametrize("kind", sorted(REFUSALS))
def test_tenant_refuses(stack_lab, tenants, kind):
    lab, result = stack_lab
    make, reasons = REFUSALS[kind]
    for ns, limits in tenants.items():
        proc = create(lab, make(ns, limits))
        assert proc.returncode != 0, f"{result.stack}/{ns}: {kind} pod was ADMITTED: {proc.stdout}"
        assert "Forbidden" in proc.stderr, f"{result.stack}/{ns}: {kind}: {proc.stderr}"
        for reason in reasons:
            assert reason in proc.stderr, f"{result.stack}/{ns}: {kind}: wanted {reason!r} in: {proc.stderr}"


def test_tenant_admits_compliant_pod(stack_lab, tenants):
    lab, result = stack_lab
    for ns, limits in tenants.items():
        pod = compliant_pod("lab-compliant", ns, limits)
        proc = create(lab, pod)
        assert proc.returncode == 0, f"{result.stack}/{ns}: compliant pod REFUSED: {proc.stderr}"
        assert "PodSecurity" not in proc.stderr, proc.stderr
        got = lab.kubectl("get", "pod", "lab-compliant", "-n", ns, "-o", "jsonpath={.status.phase}", check=True)
        assert got.stdout == "Pending"  # stored, never scheduled: no kubelet in the lab
        lab.kubectl("delete", "pod", "lab-compliant", "-n", ns, "--wait=false", check=True)


def test_control_root_pod_admitted_outside_tenant(stack_lab, tenants):
    lab, _result = stack_lab
    ns, limits = next(iter(tenants.items()))
    pod = copy.deepcopy(root_pod(ns, limits))
    pod["metadata"]["namespace"] = "default"
    proc = create(lab, pod, dry_run=True)
    assert proc.returncode == 0, f"control: root pod refused in 'default' too: {proc.stderr}"


def test_services_with_external_ips_are_refused(stack_lab, tenants):
    # DenyServiceExternalIPs, which every server's config enables (CVE-2020-8554): a tenant's
    # Service may not claim an external address; the same Service without it is admitted.
    lab, _result = stack_lab
    ns = next(iter(tenants))
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lab-external", "namespace": ns},
           "spec": {"ports": [{"port": 8080}], "externalIPs": ["192.0.2.10"]}}
    proc = create(lab, svc, dry_run=True)
    assert proc.returncode != 0 and "Use of external IPs is denied" in proc.stderr, proc.stderr
    del svc["spec"]["externalIPs"]
    assert create(lab, svc, dry_run=True).returncode == 0


def route(ns: str, match: str) -> dict:
    return {"apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute",
            "metadata": {"name": "lab-route", "namespace": ns},
            "spec": {"entryPoints": ["websecure"],
                     "routes": [{"kind": "Rule", "match": match, "services": [{"name": "app", "port": 8080}]}]}}


def certificate(ns: str, names: list[str]) -> dict:
    return {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "lab-cert", "namespace": ns},
            "spec": {"secretName": "lab-cert", "dnsNames": names,
                     "issuerRef": {"name": "letsencrypt", "kind": "Issuer"}}}


def owned_hosts(lab: Lab, ns: str) -> list[str]:
    got = lab.kubectl("get", "namespace", ns, "-o", "jsonpath={.metadata.annotations.k3s-platform/hosts}", check=True)
    return got.stdout.split(",")


def test_tenants_publish_only_their_own_hosts(stack_lab, tenants):
    # The ValidatingAdmissionPolicy ties IngressRoute hosts and Certificate names to the
    # namespace's own hosts: another tenant's (or the dashboard's) host is refused.
    lab, result = stack_lab
    # No pod runs in this lab, so cert-manager's own webhook can never answer: drop it so that
    # what admits or refuses a Certificate here is the program's policy alone.
    for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
        lab.kubectl("delete", kind, "cert-manager-webhook", "--ignore-not-found")
    config = yaml.safe_load((result.plan_dir / "manifests" / "_cluster").joinpath(
        "ValidatingAdmissionPolicy-k3s-platform-tenant-hosts.yaml").read_text())
    assert config["spec"]["failurePolicy"] == "Fail"
    for ns in tenants:
        mine = owned_hosts(lab, ns)
        assert mine and mine[0]
        foreign = "traefik." + mine[0].split(".", 1)[1]  # the dashboard's host is no tenant's
        admitted = create(lab, route(ns, f"Host(`{mine[0]}`) && PathPrefix(`/`)"), dry_run=True)
        assert admitted.returncode == 0, admitted.stderr
        for match in (f"Host(`{foreign}`)", f"Host(`{mine[0]}`) || Host(`{foreign}`)", "PathPrefix(`/`)",
                      "HostRegexp(`.+`)"):
            refused = create(lab, route(ns, match), dry_run=True)
            assert refused.returncode != 0 and "k3s-platform-tenant-hosts" in refused.stderr, (match, refused.stderr)
        assert create(lab, certificate(ns, mine), dry_run=True).returncode == 0
        refused = create(lab, certificate(ns, [mine[0], foreign]), dry_run=True)
        assert refused.returncode != 0 and "k3s-platform-tenant-hosts" in refused.stderr, refused.stderr
