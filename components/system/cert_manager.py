"""CertManager: cert-manager v1.21.1 from its official chart, in its own bounded namespace.

Creates, as children (all Kubernetes objects through the cluster's provider):
- `<name>-namespace`: Namespace `cert-manager`, Pod Security `restricted`;
- `<name>-quota`, `<name>-limits`: its ResourceQuota and LimitRange (sized for the chart);
- `<name>-chart`: `kubernetes.helm.v3.Release` of cert-manager v1.21.1 from
  https://charts.jetstack.io (or `charts.repository`) with its CRDs (`crds.enabled`), values from
  `cert_manager_values()`;
- in `ca` mode only: `<name>-ca-key` (ECDSA P-256, `tls.PrivateKey`) and `<name>-ca-cert`
  (`tls.SelfSignedCert`, a CA valid 5 years) — one private CA for the whole stack, copied
  into each namespace by `NamespaceIssuer` (docs/adr/0003 says why one and not one each).

`ready` (the chart) is what every Issuer must depend on. A `helm.v3.Release` runs the chart's
hooks and waits for them: its post-install `startupapicheck` Job succeeds only once the webhook
really admits cert-manager objects, so the Release is ready only then (docs/adr/0003).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import names
from components.config import Certificates
from components.pki import self_signed_ca
from components.system._wiring import bounded_namespace, chart
from components.system.cert_manager_values import (
    CERT_MANAGER_CHART,
    cert_manager_budget,
    cert_manager_values,
)

NAMESPACE = "cert-manager"
CA_VALIDITY_HOURS = 5 * 365 * 24


@dataclass
class PrivateCa:
    """The stack's private CA (ca mode). Both PEMs are secret Outputs."""

    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]


class CertManager(pulumi.ComponentResource):
    """cert-manager and, in `ca` mode, the stack's private CA.

    Args:
        certificates: validated `certificates` config (issuer mode, ACME server, e-mail).
        psa_version: Pod Security version label, the cluster minor (e.g. `v1.34`).
        provider: the cluster's `kubernetes.Provider` (the only one used).
        ca_common_name: subject CN of the private CA (default `k3s-platform <stack> CA`).
        chart_repository: a chart repository serving the pinned chart (default: the official one).
    """

    namespace: str
    chart: k8s.helm.v3.Release
    ready: list[pulumi.Resource]
    ca: PrivateCa | None
    certificates: Certificates

    def __init__(self, name: str, *, certificates: Certificates, psa_version: str,
                 provider: k8s.Provider, ca_common_name: str | None = None,
                 chart_repository: str | None = None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("k3s-platform:system:CertManager", name, None, opts)
        self.namespace = NAMESPACE
        self.certificates = certificates

        ns = bounded_namespace(name, NAMESPACE, psa_version=psa_version, budget=cert_manager_budget(),
                               provider=provider, parent=self)
        self.chart = chart(names.child(name, "chart"), CERT_MANAGER_CHART, namespace=ns,
                           values=cert_manager_values(namespace=NAMESPACE), provider=provider, parent=self,
                           repository=chart_repository)
        self.ready = [self.chart]

        self.ca = None
        if certificates.issuer == "ca":
            pair = self_signed_ca(
                names.child(name, "ca-key"), names.child(name, "ca-cert"),
                common_name=ca_common_name or f"k3s-platform {pulumi.get_stack()} CA",
                organization="k3s-platform", validity_hours=CA_VALIDITY_HOURS,
                early_renewal_hours=30 * 24, opts=pulumi.ResourceOptions(parent=self))
            key, cert = pair.key, pair.cert
            self.ca = PrivateCa(cert_pem=cert.cert_pem, key_pem=pulumi.Output.secret(key.private_key_pem))

        outputs: dict[str, pulumi.Input[str]] = {
            "namespace": self.namespace, "chartVersion": CERT_MANAGER_CHART.version}
        if self.ca:
            outputs["caCertPem"] = self.ca.cert_pem  # public; operators add it to their trust store
        self.register_outputs(outputs)
