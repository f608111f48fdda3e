"""TlsRoute: one HTTPS route for one host set — Certificate, headers Middleware, IngressRoute.

Creates, as children, all in `issuer.namespace`:
- `<name>-certificate`: a cert-manager `Certificate` `<route>` for `hosts` from the
  namespace's Issuer, stored in the Secret `<route>-tls`;
- `<name>-headers`: a security-headers `Middleware` `<route>-headers` (a copy per
  namespace, because Traefik's cross-namespace references are off);
- `<name>-route`: an `IngressRoute` `<route>` on `websecure` whose `tls.secretName` is the
  Certificate's secret, with the headers Middleware first, then `middlewares` — only when a
  backend `service` is given. Without one, the namespace still gets its Certificate and
  headers Middleware, for the IngressRoutes its AppOps team writes.

Ordering: everything after the namespace (`issuer.ready`); the Certificate after the
cert-manager chart and the Issuer; the Middleware and IngressRoute after the Traefik chart;
the IngressRoute also after the Certificate and the Middlewares it names.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components import kube, names
from components.system import crds
from components.system.namespace_issuer import NamespaceIssuer


def route_objects(namespace: str, route: str, *, hosts: Sequence[str], issuer_name: str, service: str | None,
                  port: int | None = None, service_kind: str = "Service", middlewares: Sequence[str] = (),
                  path_prefixes: Sequence[str] = ()) -> dict[str, dict]:
    """The objects of a route (pure): `certificate`, `headers`, and `route` when `service` is set."""
    secret = f"{route}-tls"
    headers = crds.security_headers_middleware(namespace, f"{route}-headers")
    objects = {
        "certificate": crds.certificate(namespace, route, hosts=hosts, issuer=issuer_name, secret_name=secret),
        "headers": headers,
    }
    if service is not None:
        objects["route"] = crds.ingress_route(
            namespace, route, hosts=hosts, service=service, port=port, service_kind=service_kind,
            tls_secret=secret, middlewares=[headers["metadata"]["name"], *middlewares],
            path_prefixes=path_prefixes)
    return objects


class TlsRoute(pulumi.ComponentResource):
    """HTTPS for one host set in one namespace.

    Args:
        hosts: the hostnames (one Certificate covers them all).
        service, port: the backend Service and port; or `service_kind="TraefikService"` and
            no port (e.g. `api@internal`).
        issuer: the namespace's `NamespaceIssuer` (gives namespace, Issuer and cert-manager chart).
        traefik_chart: the Traefik chart (installs the IngressRoute/Middleware CRDs).
        route_name: object name in the namespace (default: the namespace name).
        middlewares: extra Middleware names in the same namespace, after the headers one.
        path_prefixes: restrict the route to these path prefixes (default: every path).
        provider: the cluster's `kubernetes.Provider`.
        depends_on: what the IngressRoute alone waits for, e.g. the Middlewares it names.
            Every child also waits for `issuer.ready` (the namespace).
    """

    secret_name: str
    route_name: str
    certificate: k8s.apiextensions.CustomResource
    route: k8s.apiextensions.CustomResource | None

    def __init__(self, name: str, *, hosts: Sequence[str], service: str | None, issuer: NamespaceIssuer,
                 traefik_chart: pulumi.Resource, provider: k8s.Provider, port: int | None = None,
                 service_kind: str = "Service", route_name: str | None = None,
                 middlewares: Sequence[str] = (), path_prefixes: Sequence[str] = (),
                 depends_on: Sequence[pulumi.Resource] = (),
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("k3s-platform:system:TlsRoute", name, None, opts)
        namespace = issuer.namespace
        self.route_name = route_name or namespace
        objs = route_objects(namespace, self.route_name, hosts=hosts, issuer_name=issuer.issuer_name,
                             service=service, port=port, service_kind=service_kind,
                             middlewares=middlewares, path_prefixes=path_prefixes)
        self.secret_name = objs["certificate"]["spec"]["secretName"]

        def child(*deps: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[*deps, *issuer.ready])

        self.certificate = kube.apply_custom(names.child(name, "certificate"), objs["certificate"],
                                             child(issuer.cert_manager.chart, issuer.issuer))
        headers = kube.apply(names.child(name, "headers"), objs["headers"], child(traefik_chart))
        self.route = None
        if "route" in objs:
            self.route = kube.apply_custom(names.child(name, "route"), objs["route"],
                                           child(traefik_chart, headers, self.certificate, *depends_on))
        self.register_outputs({"hosts": list(hosts), "secretName": self.secret_name})
