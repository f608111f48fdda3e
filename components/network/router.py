"""Router: pfSense configured as code (type `k3s-platform:network:Router`).

Creates, as children named `<name>-<role>` (parent = the Router):
- one `PfSenseObject` per pfSense object, rendered by `payloads.py`:
  VLANs (`vlan-<if>-<tag>`), one DHCP static mapping per node (`dhcp-<mac>`, its MAC with
  `-` for `:`, aliased from the `dhcp-<node>` of earlier versions, so a rename is an update), one DNS
  resolver host override per ingress host plus the API name (`dns-<fqdn>`), NAT port
  forwards 80/443 (`nat-http`, `nat-https`), firewall rules (`fw-...`), and in HA mode the
  HAProxy backends/frontends for 6443 and 80/443 (`haproxy-...`);
- with `vpn.enabled`: the VPN PKI from `vpn_pki.py` — an ECDSA P-256 CA, server and one
  client certificate per admin (`vpn-ca`, `vpn-server-cert`, `vpn-client-<n>-cert` and their
  keys/CSRs) and a 256-byte tls-crypt key (`vpn-tls-key`) — their imports into pfSense
  (`vpn-ca-import`, `vpn-server-cert-import`, `vpn-client-<n>-import`; the CA's private key
  stays out of the router) and the OpenVPN server (`vpn-server`), and one blocking client
  specific override per `vpn.revokedClients` name (`vpn-revoked-<n>`);
- per VLAN network (`network.vlans`): its 802.1Q device (`vlan-<parent>-<tag>`), its
  interface assignment (`iface-<name>`), the DHCP server on it (`dhcpd-<name>`) and its rules
  (`fw-vlan-<name>-...`), plus one alias of private address space (`fw-alias-private`);
  everything that names the interface takes pfSense's id from the assignment's `assignedId`;
- one `PfSenseApply` per subsystem that has objects (`apply-interfaces`, `apply-firewall`,
  `apply-nat`, `apply-dhcp`, `apply-dns`, `apply-haproxy`, `apply-openvpn`), depending on
  all of them; the others also after `apply-interfaces` (a DHCP server or rule on an interface
  that is not up yet would not start).

Each object is created after the objects its `DesiredObject.after` names (payloads.py
computes them with the payloads: a frontend after its backend, the OpenVPN server after the
certificates it refers to, rules on the OpenVPN interface and revocations after the server).

Outputs: `ready` (applies the cluster waits for), `applies` (all, by subsystem),
`vpn_client_configs` (secret dict admin -> .ovpn), `vpn_ca_cert_pem`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pulumi

from components import names
from components.config.router import RouterInventory, RouterSettings

from .kinds import Kind, natural_key, payload_hash
from .openvpn import render_client_config
from .payloads import (
    DesiredObject,
    interface_refs,
    render_objects,
    render_openvpn_server,
    render_vpn_certificates,
    vpn_endpoint,
    with_interface_ids,
)
from .resources import PfSenseApply, PfSenseObject
from .vpn_pki import SERVER_CN, VpnPki, vpn_pki

# Subsystems joining nodes wait for: the API name resolves and (prod) HAProxy fronts it.
# Nodes reach the router from the LAN side, so WAN firewall/NAT/VPN stay off that path
# (they were the longest chain before a cp2 install; see BENCHMARKS.md).
READY_SUBSYSTEMS = ("dns", "haproxy")
# Nodes on a VLAN network also need it up, their leases and its rules before they install.
VLAN_READY_SUBSYSTEMS = ("interfaces", "dhcp", "firewall")


@dataclass(frozen=True)
class _Member:
    """One object of a subsystem, as that subsystem's apply sees it."""

    resource: PfSenseObject
    kind: Kind
    key: dict[str, Any]  # key fields only (no secrets): what the apply checks is present
    payload: Any  # the full payload (may be an Output): its hash re-runs the apply


class Router(pulumi.ComponentResource):
    """pfSense router for one stack. See the module docstring for what it creates."""

    ready: list[pulumi.Resource]
    applies: dict[str, pulumi.Resource]
    objects: dict[str, PfSenseObject]
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
        self._members: dict[str, list[_Member]] = defaultdict(list)
        self.objects = {}
        self._interface_ids: dict[str, pulumi.Output[str]] = {}  # VLAN network -> pfSense's optN

        if settings.vpn.enabled:
            self._vpn(settings, inventory)
        else:
            self.vpn_client_configs = pulumi.Output.secret({})
            self.vpn_ca_cert_pem = pulumi.Output.from_input(None)

        for obj in render_objects(settings, inventory):
            self._object(obj)

        self.applies = {}
        # Interfaces first: the other subsystems' objects may sit on a VLAN network's interface.
        for subsystem in sorted(self._members, key=lambda s: (s != "interfaces", s)):
            members = self._members[subsystem]
            first = [self.applies["interfaces"]] if "interfaces" in self.applies else []
            self.applies[subsystem] = PfSenseApply(
                names.child(name, "apply", subsystem),
                self._connection,
                subsystem,
                [{"kind": m.kind.name, "payload": m.key} for m in members],
                pulumi.Output.all(*[m.payload for m in members]).apply(lambda ps: payload_hash(*ps)),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*first, *(m.resource for m in members)]),
            )
        wanted = READY_SUBSYSTEMS + (VLAN_READY_SUBSYSTEMS if inventory.node_vlan else ())
        self.ready = [self.applies[s] for s in wanted if s in self.applies]

        self.register_outputs(
            {
                "ready": [a.urn for a in self.ready],
                "vpnClientConfigs": self.vpn_client_configs,
                "vpnCaCertPem": self.vpn_ca_cert_pem,
            }
        )

    def _object(self, obj: DesiredObject, payload: Any = None) -> PfSenseObject:
        """One PfSenseObject for `obj`, after the objects it names in `after`. `payload`
        replaces `obj.payload` as the resource input when the real one is an Output (its
        key fields must be those of `obj.payload`)."""
        kind = obj.kind
        key_fields = kind.key_fields + (("parent_id",) if kind.parent_id else ())
        key: Any = {f: obj.payload[f] for f in key_fields}
        value: Any = obj.payload if payload is None else payload
        ident: Any = obj.natural_key
        refs = sorted(interface_refs(obj.payload))
        if refs:
            # pfSense picked the interface ids: take them from the assignments' outputs.
            ids = pulumi.Output.all(*[self._interface_ids[n] for n in refs]).apply(lambda v: dict(zip(refs, v)))
            template, key_template = value, key
            value = ids.apply(lambda m: with_interface_ids(template, m))
            key = ids.apply(lambda m: with_interface_ids(key_template, m))
            ident = ids.apply(lambda m: natural_key(kind, with_interface_ids(obj.payload, m)))
        if kind.secret:
            value = pulumi.Output.secret(value)
        res = PfSenseObject(
            names.child(self._name, obj.role),
            self._connection,
            kind,
            ident,
            value,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.objects[r] for r in obj.after],
                # Same parent and type, the old name: the engine moves the state, nothing is recreated.
                aliases=[pulumi.Alias(name=names.child(self._name, old)) for old in obj.aliases]),
        )
        self.objects[obj.role] = res
        if kind.assigned_id:
            self._interface_ids[names.vlan_network_of_interface(obj.role) or obj.role] = res.assignedId  # type: ignore[attr-defined]
        if kind.subsystem:
            self._members[kind.subsystem].append(_Member(res, kind, key, value))
        return res

    def _vpn(self, settings: RouterSettings, inv: RouterInventory) -> None:
        vpn = settings.vpn
        pki: VpnPki = vpn_pki(self._name, vpn, pulumi.ResourceOptions(parent=self))
        pems = {client: (pair.cert.cert_pem, pair.key.private_key_pem) for client, pair in pki.clients.items()}
        server = (pki.server.cert.cert_pem, pki.server.key.private_key_pem)
        for obj in render_vpn_certificates(pki.ca.cert.cert_pem, server, pems):
            self._object(obj)
        template = render_openvpn_server(settings, inv, "")  # role, kind, key: no secret needed
        self._object(template, pki.tls_key.apply(lambda k: render_openvpn_server(settings, inv, k).payload))

        endpoint = vpn_endpoint(settings, inv)
        clients = list(pems)
        flat = [part for name in clients for part in pems[name]]

        def _configs(args: list[str]) -> dict[str, str]:
            ca_pem, key_text, rest = args[0], args[1], args[2:]
            return {
                name: render_client_config(
                    endpoint=endpoint,
                    port=vpn.port,
                    protocol=vpn.protocol,
                    server_cn=SERVER_CN,
                    ca_pem=ca_pem,
                    cert_pem=rest[2 * i],
                    key_pem=rest[2 * i + 1],
                    tls_key=key_text,
                )
                for i, name in enumerate(clients)
            }

        self.vpn_client_configs = pulumi.Output.secret(
            pulumi.Output.all(pki.ca.cert.cert_pem, pki.tls_key, *flat).apply(_configs)
        )
        self.vpn_ca_cert_pem = pki.ca.cert.cert_pem
