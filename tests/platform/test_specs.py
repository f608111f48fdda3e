"""Tenant specs: quantities, Namespace, ResourceQuota, LimitRange and NetworkPolicies.

Golden files pin the exact wire form; the schema tests prove the objects are valid
Kubernetes; a tiny NetworkPolicy evaluator proves what traffic the policies let through.
"""

from __future__ import annotations

import ipaddress
from decimal import Decimal

import kubernetes_validate
import pytest

from components.config import EgressAllow, Limits
from components.platform import specs
from components.quantity import parse_quantity

from .conftest import K8S_VERSION, to_yaml

QUOTA = {
    "requests.cpu": "2",
    "requests.memory": "4Gi",
    "limits.cpu": "4",
    "limits.memory": "8Gi",
    "pods": 20,
    "persistentvolumeclaims": "5",
    "requests.storage": "20Gi",
}
LIMITS = Limits(default_cpu="500m", default_memory="256Mi", default_request_cpu="100m",
                default_request_memory="128Mi", max_cpu="2", max_memory="2Gi")


def blog_objects() -> list[dict]:
    return [
        specs.namespace("blog", psa_version="v1.34"),
        specs.resource_quota("blog", QUOTA),
        specs.limit_range("blog", LIMITS),
        *specs.network_policies(
            "blog",
            app_ports=[8080, 2525],
            egress=[EgressAllow(cidr="192.0.2.0/24", ports=(587, 465)), EgressAllow(cidr="198.51.100.7/32", ports=(123,), protocol="UDP")],
        ),
    ]


# --- parse_quantity --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500m", Decimal("0.5")),
        ("1", Decimal(1)),
        (10, Decimal(10)),
        ("0", Decimal(0)),
        ("1k", Decimal(1000)),
        ("1M", Decimal(10**6)),
        ("2G", Decimal(2 * 10**9)),
        ("1T", Decimal(10**12)),
        ("1P", Decimal(10**15)),
        ("1E", Decimal(10**18)),  # exa, not an exponent
        ("1Ki", Decimal(1024)),
        ("128Mi", Decimal(128 * 2**20)),
        ("1.5Gi", Decimal(3 * 2**29)),
        ("1Ti", Decimal(2**40)),
        ("1Pi", Decimal(2**50)),
        ("1Ei", Decimal(2**60)),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("2e-1", Decimal("0.2")),
        ("12E+2", Decimal(1200)),
        (".5", Decimal("0.5")),
        ("5.", Decimal(5)),
        ("+1", Decimal(1)),
        ("-1", Decimal(-1)),
        ("0.1m", Decimal("0.0001")),
    ],
)
def test_parse_quantity_values(text, expected):
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "Gi", "1.5.5", "1KI", "1mi", "1 Gi", " 1", "1e", "1e3Gi", "--1", "0x10"])
def test_parse_quantity_rejects_bad_syntax_with_the_value_in_the_message(text):
    with pytest.raises(ValueError) as err:
        parse_quantity(text)
    assert repr(text) in str(err.value)
    assert "Kubernetes quantity" in str(err.value)


@pytest.mark.parametrize("value", [None, 1.5, True, ["1"]])
def test_parse_quantity_rejects_non_strings(value):
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity(value)


def test_parse_quantity_orders_mixed_units():
    # What the config layer's "default within quota" check relies on.
    assert parse_quantity("1500m") > parse_quantity("1")
    assert parse_quantity("1Gi") > parse_quantity("1G")
    assert parse_quantity("1024Mi") == parse_quantity("1Gi")


# --- Namespace -------------------------------------------------------------------------------


def test_namespace_labels_are_pod_security_restricted_and_pinned():
    ns = specs.namespace("blog", psa_version="v1.34")
    assert ns["metadata"] == {
        "name": "blog",
        "labels": {
            "k3s-platform/tenant": "blog",
            "app.kubernetes.io/managed-by": "pulumi",
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "v1.34",
            "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/audit-version": "v1.34",
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/warn-version": "v1.34",
        },
    }


def test_namespace_version_is_a_parameter():
    labels = specs.namespace("blog", psa_version="v1.35")["metadata"]["labels"]
    assert {v for k, v in labels.items() if k.endswith("-version")} == {"v1.35"}


# --- ResourceQuota ---------------------------------------------------------------------------


def test_quota_always_forbids_loadbalancers_and_nodeports():
    hard = specs.resource_quota("blog", {"pods": "5"})["spec"]["hard"]
    assert hard == {"pods": "5", "services.loadbalancers": "0", "services.nodeports": "0"}


def test_quota_keeps_config_values_and_normalises_ints_to_strings():
    hard = specs.resource_quota("blog", QUOTA)["spec"]["hard"]
    assert hard["pods"] == "20"
    assert hard["requests.memory"] == "4Gi"
    assert set(hard) == set(QUOTA) | {"services.loadbalancers", "services.nodeports"}


def test_quota_accepts_object_count_keys():
    hard = specs.resource_quota("blog", {"count/deployments.apps": "10"})["spec"]["hard"]
    assert hard["count/deployments.apps"] == "10"


# --- LimitRange ------------------------------------------------------------------------------


def test_limit_range_is_per_container_with_defaults_and_maxima():
    lr = specs.limit_range("blog", LIMITS)
    assert lr["metadata"]["namespace"] == "blog"
    assert lr["spec"]["limits"] == [
        {
            "type": "Container",
            "default": {"cpu": "500m", "memory": "256Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
            "max": {"cpu": "2", "memory": "2Gi"},
        }
    ]


# --- NetworkPolicies: shape ------------------------------------------------------------------


def test_policy_names_say_what_they_allow():
    names = [p["metadata"]["name"] for p in blog_objects() if p["kind"] == "NetworkPolicy"]
    assert names == [
        "default-deny",
        "allow-dns",
        "allow-same-namespace",
        "allow-from-traefik",
        "allow-acme-solver",
        "allow-egress-0",
        "allow-egress-1",
    ]


def test_default_deny_selects_every_pod_in_both_directions_with_no_rules():
    deny = specs.network_policies("blog", app_ports=[8080])[0]
    assert deny["metadata"]["name"] == "default-deny"
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_no_app_ports_means_no_traefik_policy_rather_than_all_ports():
    names = [p["metadata"]["name"] for p in specs.network_policies("blog", app_ports=[])]
    assert "allow-from-traefik" not in names
    assert "allow-acme-solver" in names


def test_acme_solver_policy_targets_cert_managers_solver_pods_on_8089():
    acme = {p["metadata"]["name"]: p for p in specs.network_policies("blog", app_ports=[8080])}["allow-acme-solver"]
    assert acme["spec"]["podSelector"] == {"matchLabels": {"acme.cert-manager.io/http01-solver": "true"}}
    assert acme["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8089}]


def test_every_tenant_object_carries_the_tenant_labels():
    for obj in blog_objects():
        labels = obj["metadata"]["labels"]
        assert labels["k3s-platform/tenant"] == "blog", obj["metadata"]["name"]
        assert labels["app.kubernetes.io/managed-by"] == "pulumi", obj["metadata"]["name"]
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "blog"


# --- NetworkPolicies: behaviour --------------------------------------------------------------
# A small evaluator of the NetworkPolicy semantics we use (podSelector/namespaceSelector
# matchLabels, ipBlock without except, numeric ports). A connection is allowed when the
# source's egress and the destination's ingress both allow it; a pod selected by no policy
# of a direction is open in that direction.


def _selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def _peer_matches(peer: dict, policy_ns: str, other: dict) -> bool:
    if "ipBlock" in peer:
        return "ip" in other and ipaddress.ip_address(other["ip"]) in ipaddress.ip_network(peer["ipBlock"]["cidr"])
    if "ns" not in other:
        return False
    if "namespaceSelector" in peer:
        ns_ok = _selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": other["ns"]})
    else:
        ns_ok = other["ns"] == policy_ns
    return ns_ok and _selects(peer.get("podSelector") or {}, other.get("labels", {}))


def _port_matches(ports: list | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    return any(p.get("port") == port and p.get("protocol", "TCP") == protocol for p in ports)


def _direction_allows(policies, direction, pod, other, port, protocol) -> bool:
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    relevant = [
        p
        for p in policies
        if p["metadata"]["namespace"] == pod["ns"]
        and direction in p["spec"]["policyTypes"]
        and _selects(p["spec"]["podSelector"], pod["labels"])
    ]
    if not relevant:
        return True
    for policy in relevant:
        for rule in policy["spec"].get(key) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(_peer_matches(peer, pod["ns"], other) for peer in peers)
            if peer_ok and _port_matches(rule.get("ports"), port, protocol):
                return True
    return False


def connects(policies, src: dict, dst: dict, port: int, protocol: str = "TCP") -> bool:
    src_ok = "labels" not in src or _direction_allows(policies, "Egress", src, dst, port, protocol)
    dst_ok = "labels" not in dst or _direction_allows(policies, "Ingress", dst, src, port, protocol)
    return src_ok and dst_ok


def two_tenants() -> list[dict]:
    return specs.network_policies("blog", app_ports=[8080], egress=[EgressAllow(cidr="192.0.2.0/24", ports=(587,))]) + specs.network_policies(
        "shop", app_ports=[3000]
    )


BLOG_WEB = {"ns": "blog", "labels": {"app": "web"}}
BLOG_DB = {"ns": "blog", "labels": {"app": "db"}}
SHOP_WEB = {"ns": "shop", "labels": {"app": "web"}}
TRAEFIK = {"ns": "traefik", "labels": {"app.kubernetes.io/name": "traefik"}}
OTHER_IN_TRAEFIK_NS = {"ns": "traefik", "labels": {"app": "debug"}}
COREDNS = {"ns": "kube-system", "labels": {"k8s-app": "kube-dns"}}
METRICS_SERVER = {"ns": "kube-system", "labels": {"k8s-app": "metrics-server"}}
BLOG_SOLVER = {"ns": "blog", "labels": {"acme.cert-manager.io/http01-solver": "true"}}
# Endpoints outside the cluster are given as {"ip": ...}; namespaces without policies
# (traefik, kube-system here) are open, as in a real cluster.


def test_tenants_are_isolated_from_each_other():
    pol = two_tenants()
    assert not connects(pol, SHOP_WEB, BLOG_WEB, 8080)
    assert not connects(pol, BLOG_WEB, SHOP_WEB, 3000)


def test_pods_of_one_namespace_talk_to_each_other_on_any_port():
    pol = two_tenants()
    assert connects(pol, BLOG_WEB, BLOG_DB, 5432)
    assert connects(pol, BLOG_DB, BLOG_WEB, 8080)


def test_traefik_reaches_only_the_app_ports():
    pol = two_tenants()
    assert connects(pol, TRAEFIK, BLOG_WEB, 8080)
    assert not connects(pol, TRAEFIK, BLOG_WEB, 5432)
    assert not connects(pol, TRAEFIK, SHOP_WEB, 8080)  # shop's app port is 3000
    assert connects(pol, TRAEFIK, SHOP_WEB, 3000)


def test_only_traefiks_pods_not_its_whole_namespace_are_allowed_in():
    assert not connects(two_tenants(), OTHER_IN_TRAEFIK_NS, BLOG_WEB, 8080)


def test_acme_solver_is_reachable_from_traefik_on_8089_only():
    pol = two_tenants()
    assert connects(pol, TRAEFIK, BLOG_SOLVER, 8089)
    assert not connects(pol, TRAEFIK, BLOG_WEB, 8089)
    assert not connects(pol, SHOP_WEB, BLOG_SOLVER, 8089)


def test_dns_egress_goes_to_coredns_only_on_53():
    pol = two_tenants()
    assert connects(pol, BLOG_WEB, COREDNS, 53, "UDP")
    assert connects(pol, BLOG_WEB, COREDNS, 53, "TCP")
    assert not connects(pol, BLOG_WEB, COREDNS, 9153)
    assert not connects(pol, BLOG_WEB, METRICS_SERVER, 53, "UDP")


def test_egress_allow_list_opens_exactly_what_it_lists():
    pol = two_tenants()
    assert connects(pol, BLOG_WEB, {"ip": "192.0.2.25"}, 587)
    assert not connects(pol, BLOG_WEB, {"ip": "192.0.2.25"}, 25)
    assert not connects(pol, BLOG_WEB, {"ip": "203.0.113.1"}, 587)
    # shop declared no egress: nothing outside the cluster.
    assert not connects(pol, SHOP_WEB, {"ip": "192.0.2.25"}, 587)


# --- golden and schema -----------------------------------------------------------------------


def test_tenant_objects_match_golden(golden):
    golden("tenant_blog.yaml", to_yaml(blog_objects()))


def test_tenant_objects_validate_against_the_kubernetes_schema(validate_k8s):
    objects = blog_objects() + specs.network_policies("shop", app_ports=[])
    assert len(objects) == 14
    for obj in objects:
        validate_k8s(obj)


def test_schema_check_is_strict_enough_to_catch_a_typo():
    # Guards the test above: a misspelt field must fail validation, or it proves nothing.
    bad = specs.network_policies("blog", app_ports=[8080])[0]
    bad["spec"]["policyType"] = bad["spec"].pop("policyTypes")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)
