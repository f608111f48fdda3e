"""TraefikStack: Traefik v3 from its official chart, with its TLS defaults and a protected dashboard.

Creates, as children (all Kubernetes objects through the cluster's provider):
- `<name>-namespace`, `<name>-quota`, `<name>-limits`: Namespace `traefik` (Pod Security
  `restricted`; the chart's pods comply with the values below) and its quota and limits;
- `<name>-chart`: `kubernetes.helm.v3.Release` of traefik 41.3.0 from
  https://traefik.github.io/charts (or `charts.repository`), values from `traefik_values()` (k3s's bundled Traefik
  stays disabled by the cluster layer);
- `<name>-tls-default`: the `TLSOption` `default` (TLS 1.2+, sniStrict, modern ciphers),
  which Traefik applies to every router without its own option;
- `<name>-dashboard-salt-key`: 32 random bytes (secret, kept in state) that key the bcrypt
  salt, so the hash is stable across runs yet no oracle for password guesses;
- `<name>-dashboard-users`: Secret with the dashboard user's bcrypt htpasswd line (the
  password is hashed here, deterministically; the value is a secret Output);
- `<name>-dashboard-auth`, `<name>-dashboard-allow`: BasicAuth and IP allow-list
  Middlewares (admin LAN/VPN ranges);
- `<name>-issuer`: a `NamespaceIssuer` for the `traefik` namespace;
- `<name>-dashboard`: a `TlsRoute` for `ingress.dashboardHost` -> `api@internal`, behind
  headers + BasicAuth + allow-list, TLS from its own Certificate.

Every custom resource depends on the chart that installs its CRD (docs/adr/0003).
Tenant routes: cross-namespace references are off, so a tenant cannot use this namespace's
Middlewares; `TlsRoute` gives every route its own headers Middleware in its own namespace,
and HTTP -> HTTPS is done once for all at the `web` entry point.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from ipaddress import IPv4Network

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import kube, names
from components.config import Ingress
from components.system import crds
from components.system._wiring import bounded_namespace, chart
from components.system.cert_manager import CertManager
from components.system.htpasswd import HtpasswdError, htpasswd_line
from components.system.namespace_issuer import NamespaceIssuer
from components.system.tls_route import TlsRoute
from components.system.traefik_values import (
    INGRESS_CLASS,
    TRAEFIK_CHART,
    traefik_budget,
    traefik_values,
)

NAMESPACE = "traefik"
DASHBOARD_ROUTE = "dashboard"
DASHBOARD_USERS_SECRET = "dashboard-users"
DASHBOARD_AUTH = "dashboard-auth"
DASHBOARD_ALLOW = "dashboard-allow"


def dashboard_users(user: str, password: str, *, salt_key_b64: str) -> str:
    """The `users` value of the BasicAuth secret. The password is a secret, checked only here
    (config cannot see it): a bad one becomes a RunError naming its config key."""
    try:
        return htpasswd_line(user, password, salt_key=base64.b64decode(salt_key_b64)) + "\n"
    except HtpasswdError as err:
        if err.field != "password":
            raise
        raise pulumi.RunError(f"dashboardPassword: {err.reason}") from None


class TraefikStack(pulumi.ComponentResource):
    """Traefik v3, its default TLS options and its dashboard.

    Args:
        ingress: validated `ingress` config (dashboard host and user, replicas).
        admin_cidrs: LAN/VPN ranges allowed to reach the dashboard.
        trusted_proxies: where PROXY protocol / X-Forwarded-* are trusted from (prod: the
            router's LAN address as /32; dev: empty).
        ha: production topology — PodDisruptionBudget and anti-affinity, replicas >= 2.
        dashboard_password: the secret `dashboardPassword` (hashed here, never stored plain).
        cert_manager: the `CertManager` component (Issuer + Certificate for the dashboard).
        psa_version: Pod Security version label, the cluster minor (e.g. `v1.34`).
        provider: the cluster's `kubernetes.Provider`.
        chart_repository: a chart repository serving the pinned chart (default: the official one).
    """

    namespace: str
    ingress_class: str
    chart: k8s.helm.v3.Release
    tls_option: k8s.apiextensions.CustomResource
    issuer: NamespaceIssuer
    dashboard: TlsRoute

    def __init__(self, name: str, *, ingress: Ingress, admin_cidrs: Sequence[IPv4Network],
                 trusted_proxies: Sequence[IPv4Network], ha: bool, dashboard_password: pulumi.Input[str],
                 cert_manager: CertManager, psa_version: str, provider: k8s.Provider,
                 chart_repository: str | None = None, nodes: Sequence[str] = (),
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("k3s-platform:system:TraefikStack", name, None, opts)
        self.namespace = NAMESPACE
        self.ingress_class = INGRESS_CLASS
        values = traefik_values(replicas=ingress.replicas, ha=ha,
                                trusted_proxies=trusted_proxies, nodes=nodes)
        allow = crds.ip_allow_list_middleware(NAMESPACE, DASHBOARD_ALLOW,
                                              source_ranges=admin_cidrs)

        ns = bounded_namespace(name, NAMESPACE, psa_version=psa_version,
                               budget=traefik_budget(ingress.replicas), provider=provider, parent=self)
        self.chart = chart(names.child(name, "chart"), TRAEFIK_CHART, namespace=ns, values=values,
                           provider=provider, parent=self, repository=chart_repository)
        after_chart = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.chart])

        self.tls_option = kube.apply_custom(names.child(name, "tls-default"), crds.tls_option(NAMESPACE, "default"), after_chart)

        # The password only ever flows inside a secret Output; the hash is secret too. The
        # bcrypt salt is keyed by secret random bytes kept in state (htpasswd.py says why).
        salt_key = random.RandomBytes(names.child(name, "dashboard-salt-key"), length=32,
                                      opts=pulumi.ResourceOptions(parent=self))
        user = ingress.dashboard_user
        users: pulumi.Output[str] = pulumi.Output.secret(pulumi.Output.all(dashboard_password, salt_key.base64).apply(
            lambda args: dashboard_users(user, args[0], salt_key_b64=args[1])))
        secret_meta = crds.basic_auth_secret(NAMESPACE, DASHBOARD_USERS_SECRET, "")
        users_secret = k8s.core.v1.Secret(
            names.child(name, "dashboard-users"), metadata=secret_meta["metadata"], type=secret_meta["type"],
            string_data={"users": users},
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[ns.namespace]))
        auth = kube.apply(
            names.child(name, "dashboard-auth"),
            crds.basic_auth_middleware(NAMESPACE, DASHBOARD_AUTH, secret_name=DASHBOARD_USERS_SECRET,
                                       realm="traefik-dashboard"),
            pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.chart, users_secret]))
        allow_mw = kube.apply(names.child(name, "dashboard-allow"), allow, after_chart)

        self.issuer = NamespaceIssuer(names.child(name, "issuer"), namespace=NAMESPACE, cert_manager=cert_manager,
                                      provider=provider, depends_on=[ns.namespace],
                                      opts=pulumi.ResourceOptions(parent=self))
        self.dashboard = TlsRoute(
            names.child(name, "dashboard"), hosts=[ingress.dashboard_host], service="api@internal",
            service_kind="TraefikService", route_name=DASHBOARD_ROUTE, issuer=self.issuer,
            traefik_chart=self.chart, provider=provider,
            # Order matters: reject strangers before asking them for a password.
            middlewares=[DASHBOARD_ALLOW, DASHBOARD_AUTH],
            path_prefixes=["/dashboard", "/api"],
            depends_on=[auth, allow_mw],
            opts=pulumi.ResourceOptions(parent=self))

        self.register_outputs({
            "namespace": self.namespace,
            "chartVersion": TRAEFIK_CHART.version,
            "dashboardUrl": f"https://{ingress.dashboard_host}/dashboard/",
        })
