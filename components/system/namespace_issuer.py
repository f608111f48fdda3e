"""NamespaceIssuer: one cert-manager `Issuer` in one namespace.

Traefik reads a route's TLS secret from the route's own namespace, so every namespace with
routes gets its own Issuer (never a ClusterIssuer) and its own Certificates.

Creates, as children:
- `acme` mode: `<name>-issuer`, an ACME Issuer (`letsencrypt-staging` or
  `letsencrypt-production` by config) whose account key lives in the Secret
  `acme-account-<server>-<namespace>` (made by cert-manager) and whose HTTP-01 solver goes
  through the `traefik` ingress class;
- `ca` mode: `<name>-ca-secret`, the stack's CA key pair copied into the namespace as a
  `kubernetes.io/tls` Secret `platform-ca` (secret Outputs), and `<name>-issuer`, a CA
  Issuer `platform-ca` on it.

Every child depends on the cert-manager chart (CRDs + webhook ready) and on `depends_on`
(typically the Namespace object itself).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components import kube, names
from components.config import Certificates
from components.system import crds
from components.system.cert_manager import CertManager

CA_SECRET = "platform-ca"


def issuer_object(namespace: str, certificates: Certificates) -> dict:
    """The Issuer this namespace gets for `certificates` (pure; used by the component and tests)."""
    name = crds.issuer_name(certificates.issuer, certificates.acme_server)
    if certificates.issuer == "acme":
        return crds.acme_issuer(
            namespace, name=name, server_url=crds.ACME_SERVERS[certificates.acme_server],
            email=certificates.email or "",
            account_key_secret_name=crds.account_key_secret(namespace, certificates.acme_server))
    return crds.ca_issuer(namespace, name=name, ca_secret_name=CA_SECRET)


class NamespaceIssuer(pulumi.ComponentResource):
    """The Issuer of one namespace (ACME in prod, the stack's CA in dev).

    Args:
        namespace: the namespace name (must exist or be in `depends_on`).
        cert_manager: the `CertManager` component (its chart, its CA in `ca` mode, its config).
        provider: the cluster's `kubernetes.Provider`.
        depends_on: what must exist first, e.g. the tenant's Namespace (default: nothing more).
    """

    namespace: str
    issuer_name: str
    issuer: k8s.apiextensions.CustomResource
    cert_manager: CertManager
    ready: list[pulumi.Resource]  # what objects in this namespace wait for (its Namespace)

    def __init__(self, name: str, *, namespace: str, cert_manager: CertManager, provider: k8s.Provider,
                 depends_on: Sequence[pulumi.Resource] = (),
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("k3s-platform:system:NamespaceIssuer", name, None, opts)
        certificates = cert_manager.certificates
        self.namespace = namespace
        self.cert_manager = cert_manager
        self.ready = list(depends_on)
        obj = issuer_object(namespace, certificates)
        self.issuer_name = obj["metadata"]["name"]

        waits: list[pulumi.Resource] = [*cert_manager.ready, *depends_on]
        if certificates.issuer == "ca":
            if cert_manager.ca is None:
                raise pulumi.RunError("certificates.issuer: ca mode needs the CertManager's private CA")
            ca = cert_manager.ca
            # Cert and key go in as one secret Output: the plan shows neither.
            pems: pulumi.Output[dict[str, str]] = pulumi.Output.secret(
                pulumi.Output.all(ca.cert_pem, ca.key_pem).apply(
                    lambda p: crds.ca_secret(namespace, CA_SECRET, cert_pem=p[0], key_pem=p[1])["stringData"]))
            meta = crds.ca_secret(namespace, CA_SECRET, cert_pem="", key_pem="")
            secret = k8s.core.v1.Secret(
                names.child(name, "ca-secret"), metadata=meta["metadata"], type=meta["type"], string_data=pems,
                opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on)))
            waits.append(secret)

        self.issuer = kube.apply_custom(names.child(name, "issuer"), obj, pulumi.ResourceOptions(
            parent=self, provider=provider, depends_on=waits))
        self.register_outputs({"namespace": namespace, "issuerName": self.issuer_name})
