"""Chart values: golden files per environment, and the properties the issue asks for.

Golden files: tests/system/golden/ — regenerate with UPDATE_GOLDEN=1 (see conftest.py).
"""

from __future__ import annotations

import pytest

from components.system.cert_manager_values import COMPONENTS, cert_manager_values
from components.system.cert_manager_values import RESOURCES as CM_RESOURCES
from components.system.traefik_values import traefik_values
from tests.system.conftest import to_yaml

ROUTER = "192.168.10.1/32"


def dev() -> dict:
    return traefik_values(replicas=1, ha=False, trusted_proxies=[])


def prod() -> dict:
    return traefik_values(replicas=2, ha=True, trusted_proxies=[ROUTER], nodes=["w1", "w2"])


def test_traefik_values_match_golden(golden):
    golden("traefik_values_dev.yaml", to_yaml(dev()))
    golden("traefik_values_prod.yaml", to_yaml(prod()))


def test_cert_manager_values_match_golden(golden):
    golden("cert_manager_values.yaml", to_yaml(cert_manager_values()))


def test_traefik_providers_and_no_cross_namespace():
    providers = prod()["providers"]
    assert providers["kubernetesCRD"]["enabled"] is True
    assert providers["kubernetesCRD"]["allowCrossNamespace"] is False
    assert providers["kubernetesIngress"]["enabled"] is True  # ACME HTTP-01 solver


def test_web_redirects_to_websecure_below_every_other_router():
    redirect = dev()["ports"]["web"]["http"]["redirections"]["entryPoint"]
    assert redirect == {"to": "websecure", "scheme": "https", "permanent": True, "priority": 1}


@pytest.mark.parametrize("values", [dev(), prod()], ids=["dev", "prod"])
def test_traefik_pod_is_restricted_with_resources(values):
    container = values["securityContext"]
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert values["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}  # every container inherits it
    assert values["podSecurityContext"]["runAsNonRoot"] is True
    assert values["podSecurityContext"]["runAsUser"] != 0
    assert {"cpu", "memory"} <= set(values["resources"]["requests"])
    assert "memory" in values["resources"]["limits"]
    assert values["image"]["tag"] == "v3.7.11"
    assert values["accessLog"]["enabled"] is True
    assert values["metrics"]["prometheus"]["entryPoint"] == "metrics"
    assert values["ingressRoute"]["dashboard"]["enabled"] is False


def test_prod_trusts_proxy_headers_from_the_router_only():
    for entry in ("web", "websecure"):
        port = prod()["ports"][entry]
        assert port["proxyProtocol"]["trustedIPs"] == [ROUTER]
        assert port["forwardedHeaders"]["trustedIPs"] == [ROUTER]
        assert port["proxyProtocol"]["insecure"] is False and port["forwardedHeaders"]["insecure"] is False
        assert dev()["ports"][entry]["proxyProtocol"]["trustedIPs"] == []


def test_prod_has_replicas_pdb_and_anti_affinity_dev_does_not():
    p, d = prod(), dev()
    assert p["deployment"]["replicas"] == 2
    assert p["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
    assert "podAntiAffinity" in p["affinity"]
    [term] = p["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert term["matchExpressions"] == [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["w1", "w2"]}]
    assert d["deployment"]["replicas"] == 1
    assert d["podDisruptionBudget"] == {"enabled": False}
    assert "affinity" not in d


def test_cert_manager_installs_crds_and_every_component_is_restricted():
    values = cert_manager_values()
    assert values["crds"] == {"enabled": True, "keep": True}
    sections = {"controller": values, **{c: values[c] for c in COMPONENTS if c != "controller"}}
    assert set(sections) == {"controller", "webhook", "cainjector", "startupapicheck"}
    # The chart's own post-install hook, which the Release runs and waits for.
    assert values["startupapicheck"]["enabled"] is True
    for name, section in sections.items():
        assert section["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}, name
        container = section["containerSecurityContext"]
        assert container["readOnlyRootFilesystem"] is True and container["allowPrivilegeEscalation"] is False, name
        assert container["capabilities"] == {"drop": ["ALL"]}, name
        assert section["resources"] == CM_RESOURCES[name], name
        assert {"cpu", "memory"} <= set(section["resources"]["requests"]) and "memory" in section["resources"]["limits"]
        assert section["image"]["tag"] == "v1.21.1", name
    assert values["global"]["leaderElection"]["namespace"] == "cert-manager"
