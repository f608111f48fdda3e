"""Router: pfSense configured as code (type `k3s-platform:network:Router`).

Creates, as children named `<name>-<role>` (parent = the Router):
- one `PfSenseObject` per pfSense object, rendered by `payloads.py`:
  VLANs (`vlan-<if>-<tag>`), one DHCP static mapping per node (`dhcp-<node>`), one DNS
  resolver host override per ingress host plus the API name (`dns-<fqdn>`), NAT port
  forwards 80/443 (`nat-http`, `nat-https`), firewall rules (`fw-...`), and in HA mode the
  HAProxy backends/frontends for 6443 and 80/443 (`haproxy-...`);
- with `vpn.enabled`: an ECDSA P-256 CA, server and one client certificate per admin made
  with pulumi-tls (`vpn-ca`, `vpn-server-cert`, `vpn-client-<n>-cert` and their keys/CSRs),
  a 256-byte tls-crypt key from pulumi-random (`vpn-tls-key`), their imports into pfSense
  (`vpn-ca-import`, `vpn-server-cert-import`, `vpn-client-<n>-import`; the CA's private key
  stays out of the router) and the OpenVPN server (`vpn-server`);
- one `PfSenseApply` per subsystem that has objects (`apply-firewall`, `apply-nat`,
  `apply-dhcp`, `apply-dns`, `apply-haproxy`, `apply-openvpn`), depending on all of them.

Outputs: `ready` (applies the cluster waits for), `applies` (all, by subsystem),
`vpn_client_configs` (secret dict admin -> .ovpn), `vpn_ca_cert_pem`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pulumi
import pulumi_random as random
import pulumi_tls as tls

from components.config.router import RouterInventory, RouterSettings

from .kinds import (
    CERTIFICATE,
    CERTIFICATE_AUTHORITY,
    get_kind,
    natural_key,
    payload_hash,
)
from .openvpn import render_client_config, render_static_key
from .payloads import (
    OPENVPN_IFACE,
    TAG,
    VPN_CA_DESCR,
    VPN_SERVER_CERT_DESCR,
    render_objects,
    render_openvpn_server,
    vpn_endpoint,
)
from .resources import PfSenseApply, PfSenseObject

# Subsystems joining nodes wait for: the API name resolves and (prod) HAProxy fronts it.
# Nodes reach the router from the LAN side, so WAN firewall/NAT/VPN stay off that path
# (they were the longest chain before a cp2 install; see BENCHMARKS.md).
READY_SUBSYSTEMS = ("dns", "haproxy")
_CA_HOURS = 10 * 365 * 24
_SERVER_CN = VPN_SERVER_CERT_DESCR


class Router(pulumi.ComponentResource):
    """pfSense router for one stack. See the module docstring for what it creates."""

    ready: list[pulumi.Resource]
    applies: dict[str, pulumi.Resource]
    vpn_client_configs: pulumi.Output[dict[str, str]]
    vpn_ca_cert_pem: pulumi.Output[str | None]

    def __init__(
        self,
        name: str,
        settings: RouterSettings,
        inventory: RouterInventory,
        api_key: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("k3s-platform:network:Router", name, None, opts)
        self._name = name
        self._connection = {
            "apiUrl": settings.api_url,
            "verifyTls": settings.verify_tls,
            "caBundle": settings.ca_bundle,
            "timeoutSeconds": settings.timeout_seconds,
            "retries": settings.retries,
            "applyTimeoutSeconds": settings.apply_timeout_seconds,
            "apiKey": pulumi.Output.secret(api_key),
        }
        # subsystem -> [(resource, kind name, key-only payload, full payload input)]
        self._members: dict[str, list[tuple[pulumi.Resource, str, dict, Any]]] = defaultdict(list)
        self.objects: dict[str, PfSenseObject] = {}

        vpn_server = None
        if settings.vpn.enabled:
            vpn_server = self._vpn(settings, inventory)
        else:
            self.vpn_client_configs = pulumi.Output.secret({})
            self.vpn_ca_cert_pem = pulumi.Output.from_input(None)

        for obj in render_objects(settings, inventory):
            deps: list[pulumi.Resource] = []
            if obj.kind.name == "haproxy_frontend":  # references its backend by name
                deps.append(self.objects[f"haproxy-backend-{obj.payload['backend_serverpool']}"])
            if obj.kind.name == "firewall_rule" and OPENVPN_IFACE in obj.payload["interface"] and vpn_server:
                deps.append(vpn_server)
            self._object(obj.role, obj.kind.name, obj.payload, obj.kind.subsystem, deps)

        self.applies: dict[str, pulumi.Resource] = {}
        for subsystem in sorted(self._members):
            members = self._members[subsystem]
            self.applies[subsystem] = PfSenseApply(
                f"{name}-apply-{subsystem}",
                self._connection,
                subsystem,
                [{"kind": kind, "payload": key} for _, kind, key, _ in members],
                pulumi.Output.all(*[p for *_, p in members]).apply(lambda ps: payload_hash(*ps)),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[r for r, *_ in members]),
            )
        self.ready = [self.applies[s] for s in READY_SUBSYSTEMS if s in self.applies]

        self.register_outputs(
            {
                "ready": [a.urn for a in self.ready],
                "vpnClientConfigs": self.vpn_client_configs,
                "vpnCaCertPem": self.vpn_ca_cert_pem,
            }
        )

    # -- helpers --------------------------------------------------------------------------

    def _object(
        self,
        role: str,
        kind: str,
        payload: Any,
        subsystem: str | None,
        deps: list[pulumi.Resource],
        key: dict[str, Any] | None = None,
    ) -> PfSenseObject:
        """One PfSenseObject; `key` (static key fields) is required when payload is an Output."""
        k = get_kind(kind)
        key = key if key is not None else {f: payload[f] for f in k.key_fields + (("parent_id",) if k.parent_id else ())}
        if k.secret:
            payload = pulumi.Output.secret(payload)
        res = PfSenseObject(
            f"{self._name}-{role}",
            self._connection,
            kind,
            natural_key(k, key),
            payload,
            opts=pulumi.ResourceOptions(parent=self, depends_on=deps),
        )
        self.objects[role] = res
        if subsystem:
            self._members[subsystem].append((res, kind, key, payload))
        return res

    def _tls_cert(self, role: str, common_name: str, ca_key, ca_cert, uses: list[str]):
        opts = pulumi.ResourceOptions(parent=self)
        key = tls.PrivateKey(f"{self._name}-{role}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=opts)
        csr = tls.CertRequest(
            f"{self._name}-{role}-csr",
            private_key_pem=key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(common_name=common_name, organization=TAG),
            opts=opts,
        )
        cert = tls.LocallySignedCert(
            f"{self._name}-{role}-cert",
            cert_request_pem=csr.cert_request_pem,
            ca_private_key_pem=ca_key.private_key_pem,
            ca_cert_pem=ca_cert.cert_pem,
            validity_period_hours=self._cert_hours,
            allowed_uses=uses,
            opts=opts,
        )
        return key, cert

    def _vpn(self, settings: RouterSettings, inv: RouterInventory) -> PfSenseObject:
        vpn = settings.vpn
        self._cert_hours = vpn.cert_validity_days * 24
        opts = pulumi.ResourceOptions(parent=self)
        # ECDSA P-256: accepted by pfSense's certificate import and OpenVPN (ECDH, no DH file).
        ca_key = tls.PrivateKey(f"{self._name}-vpn-ca-key", algorithm="ECDSA", ecdsa_curve="P256", opts=opts)
        ca = tls.SelfSignedCert(
            f"{self._name}-vpn-ca",
            private_key_pem=ca_key.private_key_pem,
            is_ca_certificate=True,
            subject=tls.SelfSignedCertSubjectArgs(common_name=f"{TAG} VPN CA", organization=TAG),
            validity_period_hours=_CA_HOURS,
            allowed_uses=["cert_signing", "crl_signing", "digital_signature"],
            opts=opts,
        )
        server_key, server_cert = self._tls_cert(
            "vpn-server", _SERVER_CN, ca_key, ca, ["digital_signature", "key_encipherment", "server_auth"]
        )
        tls_bytes = random.RandomBytes(f"{self._name}-vpn-tls-key", length=256, opts=opts)
        tls_key = pulumi.Output.secret(tls_bytes.hex.apply(render_static_key))

        # Ref: Models/CertificateAuthority.inc — descr, crt, trust, randomserial (prv omitted)
        ca_obj = self._object(
            "vpn-ca-import",
            CERTIFICATE_AUTHORITY.name,
            {"descr": VPN_CA_DESCR, "crt": ca.cert_pem, "trust": False, "randomserial": True},
            "openvpn",
            [],
            key={"descr": VPN_CA_DESCR},
        )
        # Ref: Models/Certificate.inc — descr, type, crt, prv
        server_obj = self._object(
            "vpn-server-cert-import",
            CERTIFICATE.name,
            {"descr": VPN_SERVER_CERT_DESCR, "type": "server", "crt": server_cert.cert_pem, "prv": server_key.private_key_pem},
            "openvpn",
            [ca_obj],
            key={"descr": VPN_SERVER_CERT_DESCR},
        )
        client_parts = {}
        for client in vpn.clients:
            key, cert = self._tls_cert(f"vpn-client-{client}", client, ca_key, ca, ["digital_signature", "client_auth"])
            descr = f"{TAG}-vpn-client-{client}"
            self._object(
                f"vpn-client-{client}-import",
                CERTIFICATE.name,
                {"descr": descr, "type": "user", "crt": cert.cert_pem, "prv": key.private_key_pem},
                "openvpn",
                [ca_obj],
                key={"descr": descr},
            )
            client_parts[client] = (cert.cert_pem, key.private_key_pem)

        server_payload = tls_key.apply(lambda k: render_openvpn_server(settings, inv, k).payload)
        server = self._object(
            "vpn-server",
            "openvpn_server",
            server_payload,
            "openvpn",
            [ca_obj, server_obj],
            key={"description": render_openvpn_server(settings, inv, "").payload["description"]},
        )

        endpoint = vpn_endpoint(settings, inv)
        names = list(client_parts)
        flat = [part for name in names for part in client_parts[name]]

        def _configs(args: list[str]) -> dict[str, str]:
            ca_pem, key_text, rest = args[0], args[1], args[2:]
            return {
                name: render_client_config(
                    endpoint=endpoint,
                    port=vpn.port,
                    protocol=vpn.protocol,
                    server_cn=_SERVER_CN,
                    ca_pem=ca_pem,
                    cert_pem=rest[2 * i],
                    key_pem=rest[2 * i + 1],
                    tls_key=key_text,
                )
                for i, name in enumerate(names)
            }

        self.vpn_client_configs = pulumi.Output.secret(pulumi.Output.all(ca.cert_pem, tls_key, *flat).apply(_configs))
        self.vpn_ca_cert_pem = ca.cert_pem
        return server
