"""Small pulumi-tls builders shared by every private PKI in the program.

Creates nothing by itself: each function creates the resources it names, with the options it
is given (callers pass `parent=`, so names and parents — and so URNs — stay the caller's).
Keys are ECDSA P-256: pfSense's certificate import, OpenVPN (ECDH, no DH file) and
cert-manager's CA issuer all accept it.

- `ecdsa_key(name)`: one `tls.PrivateKey`.
- `self_signed_ca(key_name, cert_name, ...)`: a CA key and its self-signed certificate.
- `signed_cert(prefix, ...)`: `<prefix>-key`, `<prefix>-csr` and `<prefix>-cert`, signed by a CA.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

from components import names

CA_USES = ("cert_signing", "crl_signing", "digital_signature")


@dataclass(frozen=True)
class CaPair:
    """A CA's key and certificate resources."""

    key: tls.PrivateKey
    cert: tls.SelfSignedCert


@dataclass(frozen=True)
class CaPems:
    """A CA as its PEM texts, wherever they come from (a `CaPair`, or a CA read from a host)."""

    key_pem: pulumi.Input[str]
    cert_pem: pulumi.Input[str]


def ca_pems(ca: CaPair) -> CaPems:
    return CaPems(key_pem=ca.key.private_key_pem, cert_pem=ca.cert.cert_pem)


@dataclass(frozen=True)
class SignedPair:
    """A leaf certificate signed by a CA, and its key."""

    key: tls.PrivateKey
    cert: tls.LocallySignedCert


def ecdsa_key(name: str, opts: pulumi.ResourceOptions | None = None) -> tls.PrivateKey:
    return tls.PrivateKey(name, algorithm="ECDSA", ecdsa_curve="P256", opts=opts)


def self_signed_ca(
    key_name: str,
    cert_name: str,
    *,
    common_name: pulumi.Input[str],
    organization: str,
    validity_hours: int,
    early_renewal_hours: int | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> CaPair:
    """A CA: `key_name` (the key) and `cert_name` (self-signed, `is_ca_certificate`).
    `early_renewal_hours` default None: renewed only when it has expired."""
    key = ecdsa_key(key_name, opts)
    cert = tls.SelfSignedCert(
        cert_name,
        private_key_pem=key.private_key_pem,
        is_ca_certificate=True,
        subject=tls.SelfSignedCertSubjectArgs(common_name=common_name, organization=organization),
        validity_period_hours=validity_hours,
        early_renewal_hours=early_renewal_hours,
        allowed_uses=list(CA_USES),
        opts=opts,
    )
    return CaPair(key=key, cert=cert)


def signed_cert(
    prefix: str,
    ca: CaPair | CaPems,
    *,
    common_name: str,
    organization: str | None,
    validity_hours: int,
    uses: list[str],
    early_renewal_hours: int | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> SignedPair:
    """`<prefix>-key`, `<prefix>-csr` for `common_name`, and `<prefix>-cert` signed by `ca`.
    `organization` None: no O in the subject (for Kubernetes client certificates O is a group).
    `early_renewal_hours`: the next `up` replaces the certificate once it is that close to
    its expiry (default None: only once expired)."""
    pems = ca_pems(ca) if isinstance(ca, CaPair) else ca
    key = ecdsa_key(names.child(prefix, "key"), opts)
    csr = tls.CertRequest(
        names.child(prefix, "csr"),
        private_key_pem=key.private_key_pem,
        subject=tls.CertRequestSubjectArgs(common_name=common_name, organization=organization),
        opts=opts,
    )
    cert = tls.LocallySignedCert(
        names.child(prefix, "cert"),
        cert_request_pem=csr.cert_request_pem,
        ca_private_key_pem=pems.key_pem,
        ca_cert_pem=pems.cert_pem,
        validity_period_hours=validity_hours,
        early_renewal_hours=early_renewal_hours,
        allowed_uses=uses,
        opts=opts,
    )
    return SignedPair(key=key, cert=cert)
