"""Every chart value we set is a key the pinned upstream chart reads, with the shape it expects.

No upstream `values.schema.json` is vendored (../shared/schemas holds only CRD schemas, and
the project must not copy a chart's schema), so each key below was checked by hand against
the upstream file named in its source tag. A new or renamed key fails
`test_*_values_use_only_verified_keys` until someone checks it upstream and adds it here
with its source — chart v39+ rejects unknown `ports.*` keys, and a misspelled key elsewhere
is silently ignored, which is worse.

Sources (repository, path, commit or release read):
  T-schema   traefik/traefik-helm-chart traefik/values.schema.json
             @ 00374755f4dc43501d59974079a9f0db49af1f85 — the only stored version; it predates
             v39 (redirections and logs.* still in their old places), so keys that moved are
             taken from T-1603/T-41 instead.
  T-tpl      traefik/traefik-helm-chart traefik/templates/_podtemplate.tpl @ 00374755…:
             proxyProtocol/forwardedHeaders rendered per entry point (not under `http`);
             redirections.entryPoint.{to,scheme,priority,permanent}; pod/container security
             contexts copied with toYaml (so seccompProfile passes through).
  T-1603     traefik/traefik-helm-chart PR #1603 (merged; "Ports Configuration" breaking change
             of v39.0.0): `ports.<ep>.redirections|middlewares|tls` -> `ports.<ep>.http.…`.
  T-41       traefik-helm-chart release v41.0.0 upgrade notes: `logs.general` -> `log`,
             `logs.access` -> `accessLog`.
  T-svc      traefik/traefik-helm-chart traefik/tests/service-new_test.yaml
             @ c6df6ca701b7ef682cb912b27c09f121765d5e80: `service.spec.externalTrafficPolicy`
             is copied into the Service's spec.
  C-schema   cert-manager/cert-manager deploy/charts/cert-manager/values.schema.json
             @ 008162be3475483d891696b2cbdf5be817a00e08 (`additionalProperties: false` on the
             root, crds, image, webhook, cainjector, startupapicheck, acmesolver(.image)).
  C-values   cert-manager/cert-manager deploy/charts/cert-manager/values.yaml
             @ 001eb00d7f276ebcb4f84ffa8ba9255d9292b8c8: `startupapicheck.enabled` (bool,
             default true); the check is a post-install hook (`jobAnnotations`).
"""

from __future__ import annotations

import re

import pytest

from components.system.cert_manager_values import cert_manager_values
from components.system.traefik_values import traefik_values

LIST = list
INT = int
BOOL = bool
STR = str

# leaf path -> (python type of the value, source tag)
TRAEFIK_KEYS: dict[str, tuple[type, str]] = {
    "image.tag": (STR, "T-schema"),
    "deployment.replicas": (INT, "T-schema"),
    "global.checkNewVersion": (BOOL, "T-schema"),
    "global.sendAnonymousUsage": (BOOL, "T-schema"),
    "ingressClass.enabled": (BOOL, "T-schema"),
    "ingressClass.isDefaultClass": (BOOL, "T-schema"),
    "ingressClass.name": (STR, "T-schema"),
    "providers.kubernetesCRD.enabled": (BOOL, "T-schema"),
    "providers.kubernetesCRD.allowCrossNamespace": (BOOL, "T-schema"),
    "providers.kubernetesCRD.allowExternalNameServices": (BOOL, "T-schema"),
    "providers.kubernetesIngress.enabled": (BOOL, "T-schema"),
    "providers.kubernetesIngress.allowExternalNameServices": (BOOL, "T-schema"),
    "api.dashboard": (BOOL, "T-schema"),
    "ingressRoute.dashboard.enabled": (BOOL, "T-schema"),
    "ports.web.http.redirections.entryPoint.to": (STR, "T-1603+T-tpl"),
    "ports.web.http.redirections.entryPoint.scheme": (STR, "T-1603+T-tpl"),
    "ports.web.http.redirections.entryPoint.permanent": (BOOL, "T-1603+T-tpl"),
    "ports.web.http.redirections.entryPoint.priority": (INT, "T-1603+T-tpl"),
    **{f"ports.{ep}.{block}.{key}": (typ, "T-schema+T-tpl")
       for ep in ("web", "websecure")
       for block in ("proxyProtocol", "forwardedHeaders")
       for key, typ in (("trustedIPs", LIST), ("insecure", BOOL))},
    "log.level": (STR, "T-41"),
    "log.format": (STR, "T-41"),
    "accessLog.enabled": (BOOL, "T-41"),
    "accessLog.format": (STR, "T-41"),
    "metrics.prometheus.entryPoint": (STR, "T-schema"),
    "metrics.prometheus.addEntryPointsLabels": (BOOL, "T-schema"),
    "metrics.prometheus.addRoutersLabels": (BOOL, "T-schema"),
    "metrics.prometheus.addServicesLabels": (BOOL, "T-schema"),
    "podSecurityContext.runAsNonRoot": (BOOL, "T-schema"),
    "podSecurityContext.runAsUser": (INT, "T-schema"),
    "podSecurityContext.runAsGroup": (INT, "T-schema"),
    "podSecurityContext.seccompProfile.type": (STR, "T-tpl (toYaml)"),
    "securityContext.runAsNonRoot": (BOOL, "T-tpl (toYaml)"),
    "securityContext.allowPrivilegeEscalation": (BOOL, "T-schema"),
    "securityContext.readOnlyRootFilesystem": (BOOL, "T-schema"),
    "securityContext.capabilities.drop": (LIST, "T-schema"),
    "securityContext.seccompProfile.type": (STR, "T-tpl (toYaml)"),
    "podDisruptionBudget.enabled": (BOOL, "T-schema"),
    "podDisruptionBudget.minAvailable": (INT, "T-schema"),
    "service.spec.externalTrafficPolicy": (STR, "T-svc"),
}
# Free-form objects upstream (`type: object`, passed through with toYaml).
TRAEFIK_OPAQUE = {"resources": "T-schema", "affinity": "T-schema"}

_CM_COMPONENT = {
    "image.tag": STR,
    "securityContext.runAsNonRoot": BOOL,
    "securityContext.seccompProfile.type": STR,
    "containerSecurityContext.runAsNonRoot": BOOL,
    "containerSecurityContext.allowPrivilegeEscalation": BOOL,
    "containerSecurityContext.readOnlyRootFilesystem": BOOL,
    "containerSecurityContext.capabilities.drop": LIST,
    "containerSecurityContext.seccompProfile.type": STR,
}
CERT_MANAGER_KEYS: dict[str, tuple[type, str]] = {
    "crds.enabled": (BOOL, "C-schema"),
    "crds.keep": (BOOL, "C-schema"),
    "global.leaderElection.namespace": (STR, "C-schema"),
    "acmesolver.image.tag": (STR, "C-schema"),
    **{f"{prefix}{path}": (typ, "C-schema")
       for prefix in ("", "webhook.", "cainjector.", "startupapicheck.")
       for path, typ in _CM_COMPONENT.items()},
    "startupapicheck.enabled": (BOOL, "C-values"),
}
# `resources` and the two security contexts are `type: object` in C-schema; resources is
# checked as a whole, the security contexts key by key above (Kubernetes field names).
CERT_MANAGER_OPAQUE = {f"{p}resources": "C-schema" for p in ("", "webhook.", "cainjector.", "startupapicheck.")}


def leaves(values: dict, opaque: dict[str, str], prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if path in opaque:
            out[path] = value
        elif isinstance(value, dict):
            assert value, f"{path}: empty object — say what is meant or leave the key out"
            out.update(leaves(value, opaque, f"{path}."))
        else:
            out[path] = value
    return out


def check(values: dict, verified: dict[str, tuple[type, str]], opaque: dict[str, str]) -> None:
    unknown, wrong = [], []
    for path, value in leaves(values, opaque).items():
        if path in opaque:
            if not isinstance(value, dict):
                wrong.append(f"{path}: expected an object, got {value!r}")
            continue
        if path not in verified:
            unknown.append(path)
            continue
        typ = verified[path][0]
        if isinstance(value, bool) and typ is not bool or not isinstance(value, typ):
            wrong.append(f"{path}: expected {typ.__name__}, got {value!r}")
    assert not unknown, f"keys not verified against the pinned upstream chart: {unknown}"
    assert not wrong, "; ".join(wrong)


TRAEFIK_CASES = {
    "dev": {"replicas": 1, "ha": False, "trusted_proxies": []},
    "prod": {"replicas": 2, "ha": True, "trusted_proxies": ["192.168.10.1/32"], "nodes": ["w1", "w2"]},
}


@pytest.mark.parametrize("stack", sorted(TRAEFIK_CASES))
def test_traefik_values_use_only_verified_keys(stack):
    check(traefik_values(**TRAEFIK_CASES[stack]), TRAEFIK_KEYS, TRAEFIK_OPAQUE)


def test_cert_manager_values_use_only_verified_keys():
    check(cert_manager_values(), CERT_MANAGER_KEYS, CERT_MANAGER_OPAQUE)


@pytest.mark.parametrize("bad, path", [
    ({"ports": {"web": {"redirections": {"entryPoint": {"to": "websecure"}}}}}, "ports.web.redirections"),
    ({"ports": {"web": {"redirectTo": {"port": "websecure"}}}}, "ports.web.redirectTo.port"),
    ({"logs": {"access": {"enabled": True}}}, "logs.access.enabled"),
    ({"service": {"type": "LoadBalancer"}}, "service.type"),
    ({"deployment": {"replicas": "2"}}, "deployment.replicas"),
])
def test_the_check_rejects_pre_v41_or_mistyped_keys(bad, path):
    with pytest.raises(AssertionError, match=re.escape(path)):
        check(bad, TRAEFIK_KEYS, TRAEFIK_OPAQUE)


@pytest.mark.parametrize("stack", sorted(TRAEFIK_CASES))
def test_service_keeps_client_source_address(stack):
    # Prod: HAProxy on the router sends PROXY v2 and Traefik trusts only the router's
    # address; with the default `Cluster` policy ServiceLB/kube-proxy SNAT the connection,
    # the PROXY header arrives from an untrusted node address and is ignored. Both stacks:
    # the dashboard's ipAllowList needs the real client address.
    values = traefik_values(**TRAEFIK_CASES[stack])
    assert values["service"]["spec"]["externalTrafficPolicy"] == "Local"


def test_every_verified_key_names_its_source():
    for table in (TRAEFIK_KEYS, CERT_MANAGER_KEYS):
        for path, (_, source) in table.items():
            assert source.split()[0].split("+")[0] in __doc__, f"{path}: unknown source {source}"
