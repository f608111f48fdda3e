"""The system components under Pulumi's mocks, for the real dev and prod stack configs.

Each test reads the registrations the engine would receive (tools/imitations/harness.py) of the
real program's system layer (tests/system/conftest.py runs components/stack.py's Platform):
CertManager, TraefikStack and, per tenant, NamespaceIssuer + TlsRoute, wired as the program
wires them.
"""

from __future__ import annotations

import json

import pytest
from pulumi.runtime import rpc

from tests.system.conftest import stack_run
from tools.imitations.harness import redact, stack_config
from tools.imitations.schemas import validate

STACKS = ["dev", "prod"]
CHART = "kubernetes:helm.sh/v3:Release"
CRD_GROUP_CHART = {"traefik.io": "traefik", "cert-manager.io": "cert-manager"}
# What the harness substitutes for the encrypted `dashboardPassword` (tools/imitations/harness.py).
PASSWORD = "placeholder-dashboardPassword"


def unwrap(value):
    """Reveal secrets (to prove a plaintext never travels, even inside a secret)."""
    if rpc.is_rpc_secret(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def wire(value):
    """Engine numbers come back as floats; the API server reads integral ones as integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wire(v) for v in value]
    return value


def k8s_objects(run):
    """(registration, redacted object) for every Kubernetes object the program emits."""
    out = []
    for reg in run.registrations:
        if reg.type.startswith("kubernetes:") and reg.type != CHART and reg.custom:
            out.append((reg, wire(redact(reg.inputs))))
    return out


def of_kind(run, kind):
    return [obj for _, obj in k8s_objects(run) if obj["kind"] == kind]


def charts(run):
    return {reg.inputs["chart"]: reg for reg in run.by_type(CHART)}


@pytest.mark.parametrize("stack", STACKS)
def test_both_charts_are_pinned_releases_in_their_namespaces(stack):
    found = charts(stack_run(stack))
    assert set(found) == {"traefik", "cert-manager"}
    traefik, cm = found["traefik"].inputs, found["cert-manager"].inputs
    assert (traefik["version"], traefik["repositoryOpts"]["repo"], traefik["namespace"]) == (
        "41.3.0", "https://traefik.github.io/charts", "traefik")
    assert (cm["version"], cm["repositoryOpts"]["repo"], cm["namespace"]) == (
        "v1.21.1", "https://charts.jetstack.io", "cert-manager")
    assert cm["values"]["crds"]["enabled"] is True
    for reg in found.values():
        assert reg.provider, f"{reg.name} must use the cluster's provider"
        # The chart never creates its namespace: the stack's Namespace comes first.
        assert any(d.endswith("-namespace") for d in reg.dependencies), reg.name


@pytest.mark.parametrize("stack", STACKS)
def test_every_custom_resource_depends_on_the_chart_of_its_crd(stack):
    run = stack_run(stack)
    by_urn = {r.urn: r for r in run.registrations}
    chart_urn = {name: reg.urn for name, reg in charts(run).items()}
    checked = 0
    for reg in run.registrations:
        group = reg.type.split(":")[1].split("/")[0]
        if group not in CRD_GROUP_CHART:
            continue
        wanted = chart_urn[CRD_GROUP_CHART[group]]
        node, ok = reg, False
        while node is not None and not ok:  # directly, or through a parent
            ok = wanted in node.dependencies
            node = by_urn.get(node.parent)
        assert ok, f"{reg.type} {reg.name} does not depend on the {CRD_GROUP_CHART[group]} chart"
        checked += 1
    assert checked >= 8


@pytest.mark.parametrize("stack", STACKS)
def test_issuers_depend_on_cert_manager_chart_and_their_namespace(stack):
    run = stack_run(stack)
    cm_chart = charts(run)["cert-manager"].urn
    for reg in run.by_type("kubernetes:cert-manager.io/v1:Issuer"):
        assert cm_chart in reg.dependencies
        assert any("namespace" in d.rsplit("::", 1)[-1] for d in reg.dependencies), reg.name


@pytest.mark.parametrize("stack, kind", [("dev", "ca"), ("prod", "acme")])
def test_one_issuer_per_tenant_namespace(stack, kind):
    run = stack_run(stack)
    from components.config import parse_stack_config  # noqa: F401 (documents the source)
    issuers = of_kind(run, "Issuer")
    namespaces = sorted(i["metadata"]["namespace"] for i in issuers)
    tenants = {"dev": ["blog"], "prod": ["blog", "shop"]}[stack]
    assert namespaces == sorted(tenants + ["traefik"])
    for issuer in issuers:
        assert list(issuer["spec"]) == [kind]
        if kind == "acme":
            assert issuer["spec"]["acme"]["server"] == "https://acme-v02.api.letsencrypt.org/directory"
            ns = issuer["metadata"]["namespace"]
            assert issuer["spec"]["acme"]["privateKeySecretRef"]["name"] == f"acme-account-production-{ns}"


@pytest.mark.parametrize("stack", STACKS)
def test_one_certificate_per_tenant_host_set(stack):
    certs = {c["metadata"]["namespace"]: c for c in of_kind(stack_run(stack), "Certificate")}
    expected = {
        "dev": {"blog": ["blog.lab.home.example.org"], "traefik": ["traefik.lab.home.example.org"]},
        "prod": {"blog": ["blog.home.example.org", "www.home.example.org"],
                 "shop": ["shop.home.example.org"], "traefik": ["traefik.home.example.org"]},
    }[stack]
    assert {ns: c["spec"]["dnsNames"] for ns, c in certs.items()} == expected


@pytest.mark.parametrize("stack", STACKS)
def test_every_ingress_route_uses_websecure_and_a_certificate_secret_of_its_namespace(stack):
    run = stack_run(stack)
    secrets = {(c["metadata"]["namespace"], c["spec"]["secretName"]) for c in of_kind(run, "Certificate")}
    routes = of_kind(run, "IngressRoute")
    # A tenant without the sample app (prod's shop) gets its Certificate but no route: the
    # team routes its own traffic on that certificate (docs/operations.md).
    routed = {r["metadata"]["namespace"] for r in routes}
    assert routed == {"traefik", "blog"}
    assert {ns for ns, _ in secrets} - routed == ({"shop"} if stack == "prod" else set())
    for route in routes:
        assert route["spec"]["entryPoints"] == ["websecure"]
        assert (route["metadata"]["namespace"], route["spec"]["tls"]["secretName"]) in secrets


@pytest.mark.parametrize("stack", STACKS)
def test_dashboard_is_behind_allow_list_basic_auth_and_headers(stack):
    run = stack_run(stack)
    route = next(r for r in of_kind(run, "IngressRoute") if r["metadata"]["namespace"] == "traefik")
    rule = route["spec"]["routes"][0]
    assert rule["services"] == [{"name": "api@internal", "kind": "TraefikService"}]
    assert [m["name"] for m in rule["middlewares"]] == ["dashboard-headers", "dashboard-allow", "dashboard-auth"]
    mws = {m["metadata"]["name"]: m["spec"] for m in of_kind(run, "Middleware")}
    admin = {"dev": ["192.168.20.0/24", "10.8.20.0/24"], "prod": ["192.168.10.0/24", "10.8.0.0/24"]}[stack]
    assert mws["dashboard-allow"]["ipAllowList"]["sourceRange"] == admin
    assert mws["dashboard-auth"]["basicAuth"]["secret"] == "dashboard-users"
    assert of_kind(run, "TLSOption")[0]["metadata"] == {
        "name": "default", "namespace": "traefik",
        "labels": {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "k3s-platform"}}


@pytest.mark.parametrize("stack", STACKS)
def test_all_emitted_objects_validate(stack):
    # Validated with secrets revealed, and as the plan shows them (keys kept, values masked).
    revealed = [wire(unwrap(reg.inputs)) for reg, _ in k8s_objects(stack_run(stack))]
    shown = [obj for _, obj in k8s_objects(stack_run(stack))]
    assert [o["metadata"] for o in shown] == [o["metadata"] for o in revealed]
    secrets = [o for o in shown if o["kind"] == "Secret"]
    assert secrets and all(isinstance(o.get("stringData", o.get("data")), dict) for o in secrets)
    objects = revealed + secrets
    assert len(objects) >= 15
    minor = stack_config(stack).cluster.kubernetes_minor  # the schema of the stack's k3s minor
    problems = [p for obj in objects for p in validate(obj, minor)]
    assert problems == []


@pytest.mark.parametrize("stack", STACKS)
def test_no_plaintext_password_or_private_key_in_any_input(stack):
    run = stack_run(stack)
    revealed = json.dumps([unwrap(r.inputs) for r in run.registrations])
    assert PASSWORD not in revealed  # not even inside a secret: only the bcrypt hash travels
    assert "$2b$10$" in revealed     # ...and the hash is really there
    shown = json.dumps([redact(r.inputs) for r in run.registrations])
    assert "PRIVATE KEY" not in shown and "$2b$" not in shown


@pytest.mark.parametrize("stack", STACKS)
def test_every_secret_payload_is_a_secret_output(stack):
    run = stack_run(stack)
    secrets = run.by_type("kubernetes:core/v1:Secret")
    assert secrets
    for reg in secrets:
        payload = reg.inputs.get("stringData", reg.inputs.get("data"))
        assert rpc.is_rpc_secret(payload), f"{reg.name}: payload is not secret"


def test_dev_copies_the_stack_ca_into_each_issuer_namespace():
    run = stack_run("dev")
    ca_secrets = [r for r in run.by_type("kubernetes:core/v1:Secret") if r.inputs["metadata"]["name"] == "platform-ca"]
    assert sorted(r.inputs["metadata"]["namespace"] for r in ca_secrets) == ["blog", "traefik"]
    assert all(r.inputs["type"] == "kubernetes.io/tls" for r in ca_secrets)
    assert len(run.by_type("tls:index/privateKey:PrivateKey")) == 1  # one CA for the stack
    assert not stack_run("prod").by_type("tls:index/privateKey:PrivateKey")


def test_prod_and_dev_traefik_values_differ_as_intended():
    prod = charts(stack_run("prod"))["traefik"].inputs["values"]
    dev = charts(stack_run("dev"))["traefik"].inputs["values"]
    assert prod["deployment"]["replicas"] == 2 and dev["deployment"]["replicas"] == 1
    assert prod["podDisruptionBudget"]["enabled"] is True and dev["podDisruptionBudget"]["enabled"] is False
    assert prod["ports"]["websecure"]["proxyProtocol"]["trustedIPs"] == ["192.168.30.1/32"]  # HAProxy reaches the nodes from the router on their VLAN
    assert dev["ports"]["websecure"]["proxyProtocol"]["trustedIPs"] == []


@pytest.mark.parametrize("stack", STACKS)
def test_system_namespaces_have_quota_limits_and_restricted_labels(stack):
    run = stack_run(stack)
    for ns in ("traefik", "cert-manager"):
        namespace = next(o for o in of_kind(run, "Namespace") if o["metadata"]["name"] == ns)
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        assert any(q["metadata"]["namespace"] == ns for q in of_kind(run, "ResourceQuota"))
        assert any(lr["metadata"]["namespace"] == ns for lr in of_kind(run, "LimitRange"))


@pytest.mark.parametrize("stack", STACKS)
def test_component_hygiene_types_parents_and_provider(stack):
    run = stack_run(stack)
    by_urn = {r.urn: r for r in run.registrations}
    types = {r.type for r in run.registrations if r.type.startswith("k3s-platform:system:")}
    assert types == {"k3s-platform:system:CertManager", "k3s-platform:system:TraefikStack",
                     "k3s-platform:system:NamespaceIssuer", "k3s-platform:system:TlsRoute"}
    # Every component token names its layer and a PascalCase type (STYLE.md, component hygiene).
    for token in {r.type for r in run.registrations if r.type.startswith("k3s-platform:")}:
        _, layer, kind = token.split(":")
        assert layer in ("index", "network", "cluster", "system", "platform") and kind[:1].isupper(), token
    for reg in run.registrations:
        parent = by_urn.get(reg.parent)
        if parent is None or not parent.type.startswith("k3s-platform:"):
            continue
        assert reg.name.startswith(parent.name + "-"), f"{reg.name} is not named after its parent {parent.name}"
        if reg.type.startswith("kubernetes:"):
            assert reg.provider, f"{reg.name} has no explicit provider"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_issuers_wait_for_the_release_whose_hook_checks_the_webhook(stack):
    # The Release runs the chart's startupapicheck post-install hook and waits for it: the
    # Issuers depending on the Release are created only once the webhook admits objects.
    run = stack_run(stack)
    [cm] = [r for r in run.registrations if r.type == "kubernetes:helm.sh/v3:Release"
            and r.inputs["chart"] == "cert-manager"]
    assert cm.inputs["values"]["startupapicheck"]["enabled"] is True
    assert cm.inputs.get("skipAwait") in (None, False)
    assert not [r for r in run.registrations if r.type == "kubernetes:batch/v1:Job"]
    issuers = [r for r in run.registrations if r.type == "kubernetes:cert-manager.io/v1:Issuer"]
    assert issuers
    for issuer in issuers:
        assert cm.urn in issuer.dependencies, issuer.name
