"""Pure builders for the custom resources (and their Secrets) of the system layer.

Each function returns one wire-form object (camelCase, ready for
`kubernetes.apiextensions.CustomResource` or a typed resource). Names, hosts, ranges and
e-mail come from validated config (components/config/) and are not checked again here:

Traefik (`traefik.io/v1alpha1`):
- `tls_option`: TLS 1.2 minimum, strict SNI, AEAD/ECDHE ciphers only; named `default` it
  becomes Traefik's default for every router;
- `security_headers_middleware`: HSTS (1 year, subdomains), nosniff, frame deny, referrer
  and permissions policies, no `Server`/`X-Powered-By` leak;
- `basic_auth_middleware` + `basic_auth_secret`: BasicAuth reading htpasswd lines from a
  Secret (never a plaintext password);
- `ip_allow_list_middleware`: only the given source ranges;
- `redirect_https_middleware`: scheme redirect, for routes that must live on `web`;
- `ingress_route`: a route on `websecure` only, TLS from a secret in its own namespace.

cert-manager (`cert-manager.io/v1`):
- `acme_issuer`: Let's Encrypt (staging/production), account key secret per namespace,
  HTTP-01 through the `traefik` ingress class on the `web` entry point;
- `ca_issuer` + `ca_secret`: a CA Issuer on a `kubernetes.io/tls` Secret;
- `certificate`: one Certificate per host set, ECDSA P-256 key rotated on renewal.

No pulumi import here: the thin components wire Outputs into these dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network

from components.kube_specs import MANAGED_BY

TRAEFIK_API = "traefik.io/v1alpha1"
CERT_MANAGER_API = "cert-manager.io/v1"

# Ref: https://letsencrypt.org/docs/acme-protocol-updates/ (directory URLs)
ACME_SERVERS = {
    "staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
    "production": "https://acme-v02.api.letsencrypt.org/directory",
}

# TLS 1.2 suites with forward secrecy and AEAD only (Mozilla "intermediate"); TLS 1.3
# suites are not configurable in Go and are all strong.
# Ref: https://doc.traefik.io/traefik/https/tls/#cipher-suites
CIPHER_SUITES = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
)
CURVES = ("X25519", "CurveP256", "CurveP384")
HSTS_SECONDS = 31536000  # one year

class CrdSpecError(ValueError):
    """A builder was handed what would leak a secret (a plaintext password); the message
    starts with the offending field. Config-derived inputs are not checked again here."""


def _meta(namespace: str, name: str, labels: dict | None = None) -> dict:
    return {"name": name, "namespace": namespace, "labels": {**MANAGED_BY, **(labels or {})}}


def _traefik(kind: str, namespace: str, name: str, spec: dict) -> dict:
    return {"apiVersion": TRAEFIK_API, "kind": kind, "metadata": _meta(namespace, name), "spec": spec}


def _cert_manager(kind: str, namespace: str, name: str, spec: dict) -> dict:
    return {"apiVersion": CERT_MANAGER_API, "kind": kind, "metadata": _meta(namespace, name), "spec": spec}


# --- Traefik ---------------------------------------------------------------------------------


def tls_option(namespace: str, name: str = "default") -> dict:
    """TLSOption: TLS 1.2+, strict SNI, modern ciphers. Named `default`, it is the default.

    Ref: https://doc.traefik.io/traefik/reference/routing-configuration/kubernetes/crd/tls/tlsoption/
    """
    return _traefik("TLSOption", namespace, name, {
        "minVersion": "VersionTLS12",
        "sniStrict": True,
        "cipherSuites": list(CIPHER_SUITES),
        "curvePreferences": list(CURVES),
        "alpnProtocols": ["h2", "http/1.1"],
    })


def security_headers_middleware(namespace: str, name: str = "security-headers") -> dict:
    """Middleware `headers`: HSTS and the usual browser protections."""
    return _traefik("Middleware", namespace, name, {"headers": {
        "stsSeconds": HSTS_SECONDS,
        "stsIncludeSubdomains": True,
        "stsPreload": False,  # preload is a one-way commitment; opt in deliberately
        "forceSTSHeader": True,
        "contentTypeNosniff": True,
        "frameDeny": True,
        "referrerPolicy": "strict-origin-when-cross-origin",
        "permissionsPolicy": "camera=(), microphone=(), geolocation=(), payment=()",
        # An empty value removes the header from responses.
        "customResponseHeaders": {"Server": "", "X-Powered-By": ""},
    }})


def basic_auth_secret(namespace: str, name: str, users: str) -> dict:
    """Opaque Secret with the htpasswd lines under `users` (what BasicAuth reads).

    `users` must already be hashed (components/system/htpasswd.py); plaintext is refused.
    """
    meta = _meta(namespace, name)
    if isinstance(users, str):
        for i, line in enumerate(users.strip().splitlines()):
            user, sep, hashed = line.partition(":")
            if not sep or not user or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
                raise CrdSpecError(f"users[{i}]: expected 'user:<bcrypt hash>' — hash passwords with htpasswd_line()")
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
            "stringData": {"users": users}}


def basic_auth_middleware(namespace: str, name: str, *, secret_name: str, realm: str = "k3s-platform") -> dict:
    """Middleware `basicAuth` on the htpasswd Secret `secret_name` (same namespace)."""
    return _traefik("Middleware", namespace, name, {"basicAuth": {
        "secret": secret_name,
        "realm": realm,
        "removeHeader": True,  # the backend never sees the Authorization header
    }})


def ip_allow_list_middleware(namespace: str, name: str, *, source_ranges: Sequence[IPv4Network]) -> dict:
    """Middleware `ipAllowList`: only clients from `source_ranges` (LAN/VPN)."""
    return _traefik("Middleware", namespace, name, {"ipAllowList": {
        "sourceRange": [str(r) for r in source_ranges],
    }})


def redirect_https_middleware(namespace: str, name: str = "redirect-https") -> dict:
    """Middleware `redirectScheme` to https (permanent)."""
    return _traefik("Middleware", namespace, name, {"redirectScheme": {"scheme": "https", "permanent": True}})


def host_rule(hosts: Sequence[str], path_prefixes: Sequence[str] = ()) -> str:
    """Traefik v3 rule: Host(`a`) || Host(`b`), optionally && (PathPrefix(`/x`) || ...)."""
    rule = " || ".join(f"Host(`{h}`)" for h in hosts)
    if len(hosts) > 1:
        rule = f"({rule})"
    if path_prefixes:
        paths = " || ".join(f"PathPrefix(`{p}`)" for p in path_prefixes)
        rule = f"{rule} && ({paths})" if len(path_prefixes) > 1 else f"{rule} && {paths}"
    return rule


def ingress_route(
    namespace: str,
    name: str,
    *,
    hosts: Sequence[str],
    service: str,
    tls_secret: str,
    port: int | None = None,
    middlewares: Sequence[str] = (),
    service_kind: str = "Service",
    path_prefixes: Sequence[str] = (),
) -> dict:
    """IngressRoute on `websecure` only; TLS from `tls_secret` in the same namespace.

    `middlewares` are names of Middlewares in `namespace` (cross-namespace references are
    off). `service_kind` is `Service` (needs `port`) or `TraefikService` (e.g. api@internal).
    """
    if service_kind == "Service":
        backend = {"name": service, "kind": "Service", "port": port}
    else:
        backend = {"name": service, "kind": "TraefikService"}
    route: dict = {"kind": "Rule", "match": host_rule(hosts, path_prefixes), "services": [backend]}
    if middlewares:
        route["middlewares"] = [{"name": m} for m in middlewares]
    return _traefik("IngressRoute", namespace, name, {
        "entryPoints": ["websecure"],
        "routes": [route],
        "tls": {"secretName": tls_secret},
    })


# --- cert-manager ----------------------------------------------------------------------------


def issuer_name(mode: str, acme_server: str = "staging") -> str:
    """The Issuer's name by mode: `letsencrypt-staging`, `letsencrypt-production` or `platform-ca`."""
    return "platform-ca" if mode == "ca" else f"letsencrypt-{acme_server}"


def account_key_secret(namespace: str, acme_server: str) -> str:
    """Name of the Secret holding the ACME account key in `namespace` (one per namespace)."""
    return f"acme-account-{acme_server}-{namespace}"


def acme_issuer(
    namespace: str,
    *,
    server_url: str,
    email: str,
    account_key_secret_name: str,
    name: str = "letsencrypt",
    ingress_class: str = "traefik",
) -> dict:
    """ACME Issuer with an HTTP-01 solver through `ingress_class`, answered on `web`.

    Ref: https://cert-manager.io/docs/configuration/acme/http01/
    """
    return _cert_manager("Issuer", namespace, name, {"acme": {
        "server": server_url,
        "email": email,
        "privateKeySecretRef": {"name": account_key_secret_name},
        "solvers": [{"http01": {"ingress": {
            "ingressClassName": ingress_class,
            # The solver's Service defaults to NodePort, which the tenant quota forbids
            # (services.nodeports: 0): the challenge would never be served. Traefik reaches
            # the solver pod through a ClusterIP Service just as well.
            "serviceType": "ClusterIP",
            # The solver's router lives on `web`, where it outranks the https redirect.
            "ingressTemplate": {"metadata": {"annotations": {
                "traefik.ingress.kubernetes.io/router.entrypoints": "web",
            }}},
        }}}],
    }})


def ca_secret(namespace: str, name: str, *, cert_pem: str, key_pem: str) -> dict:
    """`kubernetes.io/tls` Secret for a CA Issuer (`ca.crt` lets clients fetch the root)."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(namespace, name),
            "type": "kubernetes.io/tls",
            "stringData": {"tls.crt": cert_pem, "tls.key": key_pem, "ca.crt": cert_pem}}


def ca_issuer(namespace: str, *, ca_secret_name: str, name: str = "platform-ca") -> dict:
    """CA Issuer signing with the key pair in Secret `ca_secret_name` (same namespace)."""
    return _cert_manager("Issuer", namespace, name, {"ca": {"secretName": ca_secret_name}})


def certificate(namespace: str, name: str, *, hosts: Sequence[str], issuer: str, secret_name: str) -> dict:
    """Certificate for `hosts` from the namespaced Issuer `issuer`, stored in `secret_name`."""
    dns_names = list(hosts)
    return _cert_manager("Certificate", namespace, name, {
        "secretName": secret_name,
        "dnsNames": dns_names,
        "issuerRef": {"name": issuer, "kind": "Issuer", "group": "cert-manager.io"},
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        "revisionHistoryLimit": 2,
    })
