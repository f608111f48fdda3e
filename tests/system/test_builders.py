"""Pure builders of the system layer: golden files, schema validation, clear errors.

Golden files: tests/system/golden/ — regenerate with UPDATE_GOLDEN=1 (see conftest.py).
"""

from __future__ import annotations

import pytest

from components.config import Certificates
from components.system import crds
from components.system.budget import (
    limit_range,
    resource_quota,
    system_namespace,
)
from components.system.cert_manager_values import cert_manager_budget
from components.system.htpasswd import htpasswd_line
from components.system.namespace_issuer import issuer_object
from components.system.tls_route import route_objects
from components.system.traefik_values import traefik_budget
from tests.system.conftest import to_yaml
from tools.imitations.schemas import validate

K8S_MINOR = "v1.34"  # the builders are cluster-version independent; the pinned minor

HOSTS = ["blog.home.example.org", "www.home.example.org"]


def sample_objects() -> list[dict]:
    """One of everything the system builders emit, with realistic inputs."""
    users = htpasswd_line("admin", "correct horse battery staple", salt_key=bytes(range(32)))
    acme = Certificates(issuer="acme", acme_server="production", email="ops@home.example.org")
    ca = Certificates(issuer="ca")
    return [
        system_namespace("traefik", psa_version="v1.34"),
        resource_quota("traefik", traefik_budget(2)),
        limit_range("traefik"),
        system_namespace("cert-manager", psa_version="v1.34"),
        resource_quota("cert-manager", cert_manager_budget()),
        limit_range("cert-manager"),
        crds.tls_option("traefik"),
        crds.security_headers_middleware("traefik"),
        crds.basic_auth_secret("traefik", "dashboard-users", users),
        crds.basic_auth_middleware("traefik", "dashboard-auth", secret_name="dashboard-users"),
        crds.ip_allow_list_middleware("traefik", "dashboard-allow", source_ranges=["192.168.10.0/24", "10.8.0.0/24"]),
        crds.redirect_https_middleware("blog"),
        issuer_object("blog", acme),
        issuer_object("blog", ca),
        crds.ca_secret("blog", "platform-ca", cert_pem="-----BEGIN CERTIFICATE-----\n...", key_pem="[secret]"),
        *route_objects("blog", "blog", hosts=HOSTS, issuer_name="letsencrypt-production",
                       service="blog", port=8080).values(),
        *route_objects("traefik", "dashboard", hosts=["traefik.home.example.org"], issuer_name="platform-ca",
                       service="api@internal", service_kind="TraefikService",
                       middlewares=["dashboard-allow", "dashboard-auth"],
                       path_prefixes=["/dashboard", "/api"]).values(),
    ]


def test_builders_match_golden(golden):
    golden("objects.yaml", to_yaml(sample_objects()))


@pytest.mark.parametrize("obj", sample_objects(), ids=lambda o: f"{o['kind']}-{o['metadata']['name']}")
def test_every_builder_output_validates(obj):
    assert validate(obj, K8S_MINOR) == []


def test_schema_check_catches_a_misspelt_field():
    # Guards the test above: the validator must reject what the API server would reject.
    obj = crds.tls_option("traefik")
    obj["spec"]["sniStrickt"] = True
    assert any("sniStrickt" in p for p in validate(obj, K8S_MINOR))


def test_tls_option_is_the_default_with_tls12_and_strict_sni():
    spec = crds.tls_option("traefik")
    assert spec["metadata"]["name"] == "default"
    assert spec["spec"]["minVersion"] == "VersionTLS12"
    assert spec["spec"]["sniStrict"] is True
    assert all("ECDHE" in c and ("GCM" in c or "CHACHA20" in c) for c in spec["spec"]["cipherSuites"])


def test_headers_middleware_sets_hsts_for_a_year():
    headers = crds.security_headers_middleware("blog")["spec"]["headers"]
    assert headers["stsSeconds"] >= 31536000 and headers["stsIncludeSubdomains"] is True
    assert headers["contentTypeNosniff"] is True and headers["frameDeny"] is True


def test_acme_issuer_has_per_namespace_account_key_and_traefik_http01():
    prod = issuer_object("shop", Certificates(issuer="acme", acme_server="production", email="a@b.org"))
    acme = prod["spec"]["acme"]
    assert acme["server"] == "https://acme-v02.api.letsencrypt.org/directory"
    assert acme["privateKeySecretRef"]["name"] == "acme-account-production-shop"
    assert acme["solvers"][0]["http01"]["ingress"]["ingressClassName"] == "traefik"
    staging = issuer_object("shop", Certificates(issuer="acme", email="a@b.org"))
    assert staging["spec"]["acme"]["server"] == "https://acme-staging-v02.api.letsencrypt.org/directory"
    assert staging["metadata"]["name"] == "letsencrypt-staging"


def test_ca_issuer_uses_the_namespace_ca_secret():
    obj = issuer_object("blog", Certificates(issuer="ca"))
    assert obj["spec"] == {"ca": {"secretName": "platform-ca"}}


def test_route_names_the_certificates_secret_and_only_websecure():
    objs = route_objects("blog", "blog", hosts=HOSTS, issuer_name="platform-ca", service="blog", port=8080)
    assert objs["route"]["spec"]["tls"]["secretName"] == objs["certificate"]["spec"]["secretName"] == "blog-tls"
    assert objs["route"]["spec"]["entryPoints"] == ["websecure"]
    assert objs["certificate"]["spec"]["dnsNames"] == HOSTS
    assert objs["route"]["spec"]["routes"][0]["match"] == "(Host(`blog.home.example.org`) || Host(`www.home.example.org`))"
    assert objs["route"]["spec"]["routes"][0]["middlewares"] == [{"name": "blog-headers"}]


def test_hashed_users_only_never_a_plaintext_password():
    # Config cannot see the secret: the builder refuses a line that is not a bcrypt hash.
    with pytest.raises(crds.CrdSpecError) as err:
        crds.basic_auth_secret("traefik", "users", "admin:plaintext")
    assert str(err.value).startswith("users[0]:")


def test_system_namespaces_are_restricted_and_quota_sets_required_keys():
    ns = system_namespace("cert-manager", psa_version="v1.34")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    hard = resource_quota("cert-manager", cert_manager_budget())["spec"]["hard"]
    assert {"requests.cpu", "requests.memory", "limits.memory", "pods"} <= set(hard)


def test_system_quotas_leave_headroom_above_the_rollout_peak():
    # The peak (every Deployment twice during a rollout, plus the check Job) must fit with
    # room to spare, or the next chart bump stalls at the quota.
    from components.quantity import parse_quantity
    from components.system.cert_manager_values import RESOURCES as CM
    peak = ["controller", "webhook", "cainjector"] * 2 + ["startupapicheck"]
    budget = cert_manager_budget()
    for kind, res, have in (("requests", "cpu", budget.requests_cpu), ("requests", "memory", budget.requests_memory),
                            ("limits", "cpu", budget.limits_cpu), ("limits", "memory", budget.limits_memory)):
        need = sum(parse_quantity(CM[c][kind][res]) for c in peak)
        assert parse_quantity(have) >= need * parse_quantity("1.25"), (kind, res, have, need)
    assert budget.pods > len(peak) + 1
