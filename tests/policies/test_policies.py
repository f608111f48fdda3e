"""One passing and one failing object per policy, through the validator the analyzer calls
(properties wrapped in pulumi-policy's proxies), plus the edge cases each rule names."""

from __future__ import annotations

import pytest
from guardrails import images, network, nonroot, quotas, rbac, resources, restricted
from guardrails._settings import merged

from tests.policies.helpers import (
    CONTAINER_LISTS,
    WORKLOAD_KINDS,
    crb,
    default_deny,
    good_container,
    good_pod_spec,
    limit_range,
    namespace,
    pod,
    quota,
    run_policy,
    workload,
)


def messages(found):
    return [m for _, m in found]


# ---------------------------------------------------------------- pods-run-as-non-root

@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_non_root_passes_compliant_workload_of_every_kind(kind):
    assert run_policy(nonroot.POLICY, workload(kind)) == []


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
@pytest.mark.parametrize("list_name", CONTAINER_LISTS)
def test_non_root_rejects_root_container_in_any_list_and_kind(kind, list_name):
    spec = good_pod_spec()
    del spec["securityContext"]["runAsNonRoot"]
    spec.setdefault(list_name, []).append(good_container("rooty"))
    for c in spec["containers"] + spec["initContainers"]:
        if c["name"] != "rooty":
            c["securityContext"]["runAsNonRoot"] = True
    found = messages(run_policy(nonroot.POLICY, workload(kind, spec)))
    assert len(found) == 1 and f"{list_name}[" in found[0] and "'rooty'" in found[0], found


def test_non_root_container_level_wins_and_run_as_user_zero_fails():
    spec = good_pod_spec()
    spec["securityContext"] = {"seccompProfile": {"type": "RuntimeDefault"}}
    for c in spec["containers"] + spec["initContainers"]:
        c["securityContext"]["runAsNonRoot"] = True
    assert run_policy(nonroot.POLICY, pod(spec)) == []
    spec["containers"][0]["securityContext"]["runAsUser"] = 0
    found = messages(run_policy(nonroot.POLICY, pod(spec)))
    assert len(found) == 1 and "runAsUser is 0" in found[0]


def test_non_root_rejects_container_false_over_pod_true():
    p = pod()
    p["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] = False
    assert "runAsNonRoot is false" in messages(run_policy(nonroot.POLICY, p))[0]


def test_non_root_ignores_non_workloads_and_exempt_namespaces():
    assert run_policy(nonroot.POLICY, namespace("team-a")) == []
    spec = good_pod_spec()
    spec["securityContext"] = {}
    assert run_policy(nonroot.POLICY, pod(spec), {"exemptNamespaces": ["team-a"]}) == []
    assert run_policy(nonroot.POLICY, pod(spec)) != []


# ---------------------------------------------------------------- pod-security-restricted

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
        restricted.check_restricted("kubernetes:core/v1:Pod", pod(), merged(restricted.SETTINGS, {"kubernetesVersion": "v1.34"}))


def test_restricted_skips_linux_only_controls_for_windows_pods():
    spec = {"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": True},
            "containers": [{"name": "w", "image": "mcr.microsoft.com/windows/nanoserver:ltsc2022"}]}
    assert run_policy(restricted.POLICY, pod(spec)) == []
    spec["containers"][0]["securityContext"] = {"windowsOptions": {"hostProcess": True}}
    assert "hostProcess" in messages(run_policy(restricted.POLICY, pod(spec)))[0]


# ---------------------------------------------------------------- container-resources

@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_resources_pass_and_fail_naming_what_is_missing(kind):
    assert run_policy(resources.POLICY, workload(kind)) == []
    spec = good_pod_spec()
    del spec["initContainers"][0]["resources"]["limits"]
    found = messages(run_policy(resources.POLICY, workload(kind, spec)))
    assert len(found) == 1 and "initContainers[0]" in found[0] and "limits.memory" in found[0]
    assert "requests.cpu" not in found[0]


def test_resources_cpu_limit_only_when_configured():
    assert run_policy(resources.POLICY, pod(), {"requireCpuLimit": True}) != []
    assert run_policy(resources.POLICY, pod()) == []


# ---------------------------------------------------------------- image-tag-pinned

@pytest.mark.parametrize("image,ok", [
    ("ghcr.io/example/app:1.2.3", True),
    ("registry.local:5000/app@sha256:" + "a" * 64, True),
    ("traefik:v3.7.11", True),
    ("nginx:latest", False),
    ("nginx", False),
    ("registry.local:5000/app", False),   # the port is not a tag
    ("", False),
])
def test_images(image, ok):
    spec = good_pod_spec()
    spec["containers"][0]["image"] = image
    found = messages(run_policy(images.POLICY, workload("Deployment", spec)))
    assert (found == []) is ok, found


def test_images_digest_required_by_config():
    assert run_policy(images.POLICY, pod(), {"requireDigest": True}) != []


# ---------------------------------------------------------------- namespace-quota-and-limits

def test_quota_passes_with_quota_and_limit_range_and_names_each_gap():
    assert run_policy(quotas.POLICY, [namespace("team-a"), quota("team-a"), limit_range("team-a")]) == []
    found = run_policy(quotas.POLICY, [namespace("team-a"), quota("team-b"), limit_range("team-b")])
    texts = messages(found)
    assert len(found) == 2 and any("ResourceQuota" in t for t in texts) and any("LimitRange" in t for t in texts)
    assert all(urn.endswith("kubernetes:core/v1:Namespace::team-a") for urn, _ in found)


def test_quota_must_cover_required_keys():
    found = messages(run_policy(quotas.POLICY, [namespace("a"), quota("a", {"pods": "5", "cpu": "1"}),
                                                limit_range("a")]))
    assert found == ["namespace 'a': ResourceQuota does not set requests.memory, limits.memory"]


def test_quota_exemptions_come_from_config():
    assert run_policy(quotas.POLICY, [namespace("kube-system", tenant=False)]) == []
    assert run_policy(quotas.POLICY, [namespace("traefik", tenant=False)]) != []
    assert run_policy(quotas.POLICY, [namespace("traefik", tenant=False)],
                      {"exemptNamespaces": ["traefik"]}) == []


def test_quota_matches_by_dependency_when_the_name_is_unknown():
    from guardrails._k8s import StackObject
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE
    ns = StackObject("urn:ns", "kubernetes:core/v1:Namespace",
                     {"kind": "Namespace", "metadata": {"name": UNKNOWN_STRING_VALUE}})
    from pulumi_policy.proxy import unknown_checking_proxy as p
    ns = StackObject(ns.urn, ns.type, p(ns.props))
    q = StackObject("urn:q", "kubernetes:core/v1:ResourceQuota", p({"kind": "ResourceQuota", "metadata": {
        "namespace": UNKNOWN_STRING_VALUE}, "spec": {"hard": {"requests.cpu": "1", "requests.memory": "1Gi",
                                                               "limits.memory": "1Gi", "pods": "1"}}}), ("urn:ns",))
    lr = StackObject("urn:lr", "kubernetes:core/v1:LimitRange",
                     p({"kind": "LimitRange", "metadata": {"namespace": UNKNOWN_STRING_VALUE}}), ("urn:ns",))
    cfg = merged(quotas.SETTINGS)
    assert quotas.check_quotas([ns, q, lr], cfg) == []
    assert len(quotas.check_quotas([ns, StackObject(q.urn, q.type, q.props)], cfg)) == 2


# ---------------------------------------------------------------- tenant-default-deny

def test_default_deny_required_in_tenant_namespaces_only():
    assert run_policy(network.POLICY, [namespace("team-a"), default_deny("team-a")]) == []
    assert run_policy(network.POLICY, [namespace("traefik", tenant=False)]) == []
    found = run_policy(network.POLICY, [namespace("team-a"), default_deny("team-b")])
    assert len(found) == 1 and "team-a" in found[0][1]


@pytest.mark.parametrize("breaker", [
    lambda s: s.update(podSelector={"matchLabels": {"app": "x"}}),
    lambda s: s.update(policyTypes=["Ingress"]),
    lambda s: s.update(ingress=[{"from": [{"podSelector": {}}]}]),
])
def test_default_deny_shape(breaker):
    np = default_deny("team-a")
    breaker(np["spec"])
    assert run_policy(network.POLICY, [namespace("team-a"), np]) != []


# ---------------------------------------------------------------- rbac-least-privilege

def test_rbac_platops_binding_passes_human_and_tenant_sa_fail():
    platops = crb("platops", [{"kind": "Group", "name": "platops", "apiGroup": "rbac.authorization.k8s.io"}])
    system_sa = crb("traefik", [{"kind": "ServiceAccount", "name": "traefik", "namespace": "traefik"}], "traefik")
    assert run_policy(rbac.POLICY, [platops, system_sa]) == []
    bad = crb("oops", [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"},
                       {"kind": "ServiceAccount", "name": "ci", "namespace": "team-a"}])
    found = messages(run_policy(rbac.POLICY, [bad]))
    assert len(found) == 3 and "User alice" in found[0] and "Group devs" in found[1] and "team-a/ci" in found[2]


def test_rbac_platops_group_comes_from_config():
    b = crb("ops", [{"kind": "Group", "name": "sre"}])
    assert run_policy(rbac.POLICY, [b]) != []
    assert run_policy(rbac.POLICY, [b], {"platopsGroup": "sre"}) == []


def test_rbac_wildcards_only_for_platops():
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "god"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}
    assert run_policy(rbac.POLICY, [role, crb("p", [{"kind": "Group", "name": "platops"}], "god")]) == []
    found = messages(run_policy(rbac.POLICY, [role]))
    assert len(found) == 1 and "wildcard" in found[0]
    appops = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
              "metadata": {"name": "appops", "namespace": "team-a"},
              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "god"},
              "subjects": [{"kind": "Group", "name": "team-a-devs"}]}
    found = messages(run_policy(rbac.POLICY, [role, appops, crb("p", [{"kind": "Group", "name": "platops"}], "god")]))
    assert len(found) == 1 and "wildcard" in found[0]


def test_rbac_rolebinding_to_edit_is_rejected():
    rb = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
          "metadata": {"name": "devs", "namespace": "team-a"},
          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
          "subjects": [{"kind": "Group", "name": "team-a-devs"}]}
    assert "ClusterRole 'edit'" in messages(run_policy(rbac.POLICY, [rb]))[0]
    rb["roleRef"]["name"] = "k3s-platform-appops"
    assert run_policy(rbac.POLICY, [rb]) == []


# ---------------------------------------------------------------- issue 16, item 15: gaps

RBAC_API = "rbac.authorization.k8s.io/v1"


def _role(name, rules, kind="ClusterRole", namespace=None, labels=None):
    meta = {"name": name, **({"namespace": namespace} if namespace else {}), **({"labels": labels} if labels else {})}
    return {"apiVersion": RBAC_API, "kind": kind, "metadata": meta, "rules": rules}


def _rb(name, namespace, role, subjects, role_kind="ClusterRole"):
    return {"apiVersion": RBAC_API, "kind": "RoleBinding", "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
            "subjects": subjects}


TEAM = [{"kind": "Group", "name": "team-a-devs"}]
PLATOPS = [{"kind": "Group", "name": "platops"}]


@pytest.mark.parametrize("rule,power", [
    ({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["escalate"]}, "verb escalate"),
    ({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["bind"]}, "verb bind"),
    ({"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]}, "verb impersonate"),
    ({"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]}, "resource nodes/proxy"),
])
def test_rbac_bypassing_rules_are_platops_only_without_any_wildcard(rule, power):
    role = _role("sneaky", [rule])
    found = messages(run_policy(rbac.POLICY, [role, _rb("b", "team-a", "sneaky", TEAM)]))
    assert found == [f"ClusterRole 'sneaky' grants {power} and is not bound to 'platops' only"]
    assert run_policy(rbac.POLICY, [role, crb("p", PLATOPS, "sneaky")]) == []


def test_rbac_secrets_of_a_system_namespace_only_for_trusted_subjects():
    reader = _role("secret-reader", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}])
    found = messages(run_policy(rbac.POLICY, [reader, _rb("r", "kube-system", "secret-reader", TEAM)]))
    assert found == ["lets Group team-a-devs read secrets of system namespace 'kube-system'"]
    # A tenant reads its own namespace's secrets (the AppOps role does).
    assert run_policy(rbac.POLICY, [namespace("team-a"), reader, _rb("r", "team-a", "secret-reader", TEAM)]) == []


@pytest.mark.parametrize("group", ["system:authenticated", "system:serviceaccounts", "system:unauthenticated",
                                   "system:serviceaccounts:team-a"])
def test_rbac_no_role_for_system_groups(group):
    rb = _rb("appops", "team-a", "k3s-platform-appops", [{"kind": "Group", "name": group}])
    found = messages(run_policy(rbac.POLICY, [rb]))
    assert found == [f"grants ClusterRole 'k3s-platform-appops' to Group {group}, i.e. to everyone of that kind; "
                     "bind a named group instead"]
    discovery = crb("discovery", [{"kind": "Group", "name": group}], "system:discovery")
    assert run_policy(rbac.POLICY, [discovery]) == []


def test_rbac_cluster_admin_for_an_exempt_namespace_service_account_is_refused():
    sa = [{"kind": "ServiceAccount", "name": "default", "namespace": "kube-system"}]
    found = messages(run_policy(rbac.POLICY, [crb("oops", sa, "cluster-admin")]))
    assert len(found) == 1 and "ServiceAccount kube-system/default to cluster-wide role 'cluster-admin'" in found[0]
    own = _role("traefik", [{"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch"]}])
    assert run_policy(rbac.POLICY, [own, crb("traefik", sa, "traefik")]) == []


def test_rbac_aggregation_must_not_widen_view_edit_admin():
    agg = "rbac.authorization.k8s.io/aggregate-to-"
    view_writes = _role("v", [{"apiGroups": ["x.io"], "resources": ["things"], "verbs": ["get", "delete"]}],
                        labels={agg + "view": "true"})
    view_secrets = _role("s", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}],
                         labels={agg + "view": "true"})
    edit_escalate = _role("e", [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"],
                                 "verbs": ["escalate"]}], labels={agg + "edit": "true"})
    found = messages(run_policy(rbac.POLICY, [view_writes, view_secrets, edit_escalate,
                                              crb("p", PLATOPS, "e")]))
    assert found == [
        "ClusterRole 'v' is aggregated into view but grants verbs delete; view must stay read-only and blind to secrets",
        "ClusterRole 's' is aggregated into view but grants secrets; view must stay read-only and blind to secrets",
        "ClusterRole 'e' is aggregated into edit and grants verb escalate; every holder of edit would gain it",
    ]
    # cert-manager's own aggregated roles: read for view, certificate writes for edit/admin.
    cm_view = _role("cert-manager-view", [{"apiGroups": ["cert-manager.io"], "resources": ["certificates"],
                                           "verbs": ["get", "list", "watch"]}],
                    labels={agg + "view": "true", agg + "edit": "true", agg + "admin": "true"})
    cm_edit = _role("cert-manager-edit", [{"apiGroups": ["cert-manager.io"], "resources": ["certificates"],
                                           "verbs": ["create", "delete", "patch", "update"]}],
                    labels={agg + "edit": "true", agg + "admin": "true"})
    assert run_policy(rbac.POLICY, [cm_view, cm_edit]) == []


def test_service_external_ips_are_refused():
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "grab", "namespace": "team-a"},
           "spec": {"ports": [{"port": 80}], "externalIPs": ["8.8.8.8"]}}
    found = messages(run_policy(network.POLICY, [svc]))
    assert found == ["Service 'grab' sets spec.externalIPs, which can capture traffic to those addresses; "
                     "publish it through Traefik instead"]
    del svc["spec"]["externalIPs"]
    assert run_policy(network.POLICY, [svc]) == []


@pytest.mark.parametrize("scope", [{"scopes": ["BestEffort"]}, {"scopes": ["Terminating"]},
                                   {"scopeSelector": {"matchExpressions": [
                                       {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}])
def test_quota_scoped_away_from_ordinary_pods_does_not_count(scope):
    q = quota("a")
    q["spec"].update(scope)
    found = messages(run_policy(quotas.POLICY, [namespace("a"), q, limit_range("a")]))
    assert found == ["namespace 'a' has no ResourceQuota in this stack (ResourceQuota 'quota' is scoped, "
                     "so ordinary pods are outside it)"]


@pytest.mark.parametrize("image", ["nginx:", "app@sha256:abc", "app@sha256:" + "a" * 63, "{{ .Values.image }}",
                                   "{{ .Values.image.repository }}:{{ .Values.image.tag }}", "Nginx:1.27",
                                   "nginx:1.27 ", "ghcr.io//app:1"])
def test_images_refuse_malformed_references(image):
    spec = good_pod_spec()
    spec["containers"][0]["image"] = image
    assert run_policy(images.POLICY, workload("Deployment", spec)) != []


@pytest.mark.parametrize("group,res,value", [("requests", "cpu", "0"), ("requests", "memory", 0),
                                             ("limits", "memory", "0Mi"), ("requests", "cpu", "0.0m")])
def test_resources_refuse_zero(group, res, value):
    spec = good_pod_spec()
    spec["containers"][0]["resources"][group][res] = value
    found = messages(run_policy(resources.POLICY, workload("Deployment", spec)))
    assert found == [f"spec.template.spec.containers[0] ('app'): resources {group}.{res} set to zero"]
