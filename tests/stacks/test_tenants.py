"""Tenants as the prod stack emits them: fenced namespaces, and least privilege proven by the
who-can evaluator on the very objects the program registers."""

import pytest

from tools.imitations import schemas
from tools.imitations.harness import stack_config
from tools.imitations.whocan import Authorizer, Subject
from tools.plan import render


@pytest.fixture(scope="module")
def objects(prod_run):
    return render.k8s_objects(prod_run)


def named(objects, kind, namespace=None):
    return {o["metadata"]["name"] for o in objects
            if o["kind"] == kind and o["metadata"].get("namespace") == namespace}


@pytest.mark.parametrize("tenant", ["blog", "shop"])
def test_each_tenant_is_fenced(objects, tenant):
    assert tenant in named(objects, "Namespace")
    [ns] = [o for o in objects if o["kind"] == "Namespace" and o["metadata"]["name"] == tenant]
    labels = ns["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "v1.34"
    assert named(objects, "ResourceQuota", tenant) and named(objects, "LimitRange", tenant)
    assert {"default-deny", "allow-dns", "allow-from-traefik", "allow-acme-solver"} <= named(objects, "NetworkPolicy", tenant)
    assert "appops" in named(objects, "RoleBinding", tenant)


def test_tenant_quota_forbids_loadbalancers_and_nodeports(objects):
    for o in objects:
        if o["kind"] == "ResourceQuota" and o["metadata"]["namespace"] in ("blog", "shop"):
            assert o["spec"]["hard"]["services.loadbalancers"] == "0"
            assert o["spec"]["hard"]["services.nodeports"] == "0"


def test_no_appops_subject_is_bound_cluster_wide(objects):
    for o in objects:
        if o["kind"] == "ClusterRoleBinding":
            assert all(not s["name"].endswith("-appops") for s in o.get("subjects", []))


def test_least_privilege_on_emitted_objects(objects):
    authz = Authorizer(objects)
    blog = Subject("Group", "blog-appops")
    platops = Subject("Group", "platops")
    assert authz.allowed(blog, "create", "deployments", namespace="blog", api_group="apps")
    assert not authz.allowed(blog, "create", "deployments", namespace="shop", api_group="apps")
    assert not authz.allowed(blog, "get", "secrets", namespace="shop")
    for ns in ("blog", "shop"):
        assert not authz.allowed(blog, "update", "networkpolicies", namespace=ns, api_group="networking.k8s.io")
        assert not authz.allowed(blog, "delete", "resourcequotas", namespace=ns)
    assert not authz.allowed(blog, "create", "rolebindings", namespace="blog", api_group="rbac.authorization.k8s.io")
    assert not authz.allowed(blog, "escalate", "roles", namespace="blog", api_group="rbac.authorization.k8s.io")
    assert authz.allowed(platops, "update", "networkpolicies", namespace="blog", api_group="networking.k8s.io")
    assert authz.allowed(platops, "create", "rolebindings", namespace="shop", api_group="rbac.authorization.k8s.io")


def test_every_emitted_object_validates(dev_run, prod_run):
    for run in (dev_run, prod_run):
        minor = stack_config(run.stack).cluster.kubernetes_minor  # the schema follows k3sVersion
        assert schemas.validate_all(render.k8s_objects(run), minor) == []


def test_schema_check_can_fail():
    bad = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": "x"},
           "spec": {"hardd": {}}}
    assert schemas.validate(bad, "v1.34")
    assert schemas.validate({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}, "v1.34")


def test_every_tenant_gets_a_certificate_for_its_hosts_and_a_route_only_with_an_app(objects):
    certs = {o["metadata"]["namespace"]: o for o in objects if o["kind"] == "Certificate"}
    routes = {o["metadata"]["namespace"] for o in objects if o["kind"] == "IngressRoute"}
    assert sorted(certs["blog"]["spec"]["dnsNames"]) == ["blog.home.example.org", "www.home.example.org"]
    assert certs["shop"]["spec"]["dnsNames"] == ["shop.home.example.org"]
    assert certs["shop"]["spec"]["secretName"] == "shop-tls"
    assert "blog" in routes  # the sample app's route
    assert "shop" not in routes  # no app: shop's AppOps write their own route on shop-tls


def test_acme_solvers_use_a_service_the_quota_allows(objects):
    # cert-manager's HTTP-01 solver Service is a NodePort unless told otherwise, and the
    # tenant quota allows no NodePort: the challenge would never be answered.
    issuers = [o for o in objects if o["kind"] == "Issuer" and "acme" in o["spec"]]
    assert {o["metadata"]["namespace"] for o in issuers} >= {"blog", "shop"}
    for issuer in issuers:
        for solver in issuer["spec"]["acme"]["solvers"]:
            assert solver["http01"]["ingress"]["serviceType"] == "ClusterIP"
