"""Pure rendering of every pfSense object the Router owns: settings + inventory -> payloads.

Creates nothing and does no I/O. Each `DesiredObject` is one pfrest v2 request body plus
its kind and natural key; the Router turns each into one dynamic resource, and the offline
plan shows exactly these bodies. Field names follow the pfrest model classes
(# Ref: github.com/pfrest/pfSense-pkg-RESTAPI .../RESTAPI/Models/<Model>.inc).

Every description written here starts with TAG, so an operator can tell managed objects
from hand-made ones, and rules/NAT entries are found again by that description. Interface
descriptions cannot carry it (pfSense takes them only as filter names): an interface
assignment is ours when the VLAN device it assigns is (`kinds.owned_interface`), and so is the
DHCP server on it. HAProxy backends have no description: their pass-thru text carries
BACKEND_MARK, a comment to HAProxy.

A VLAN network's interface id (`optN`) is chosen by pfSense when the assignment is created,
so payloads refer to it as `IFACE_PREFIX + <network name>`; the Router replaces that with the
assignment's `assignedId` output (`with_interface_ids`) before anything reaches the router.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from components import names
from components.config.router import RouterInventory, RouterSettings
from components.names import slug as _slug

from .kinds import (
    BACKEND_MARK,
    CERTIFICATE,
    CERTIFICATE_AUTHORITY,
    DHCP_SERVER,
    FIREWALL_ALIAS,
    FIREWALL_RULE,
    HAPROXY_BACKEND,
    HAPROXY_FRONTEND,
    HOST_OVERRIDE,
    INTERFACE,
    OPENVPN_CLIENT_OVERRIDE,
    OPENVPN_SERVER,
    PORT_FORWARD,
    REFID_PREFIX,
    STATIC_MAPPING,
    TAG,
    VLAN,
    Kind,
    natural_key,
)

VPN_CA_DESCR = f"{TAG}-vpn-ca"
VPN_SERVER_CERT_DESCR = f"{TAG}-vpn-server"
VPN_SERVER_DESCR = f"{TAG}: openvpn admin access"
VPN_CA_ROLE = "vpn-ca-import"
VPN_SERVER_CERT_ROLE = "vpn-server-cert-import"
VPN_SERVER_ROLE = "vpn-server"
# pfSense's interface group that holds every OpenVPN instance.
OPENVPN_IFACE = "openvpn"
# The data-channel ciphers offered to clients, strongest first.
VPN_CIPHERS = ("AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305")
VPN_DIGEST = "SHA256"
HEALTH_CHECK_INTERVAL_MS = 2000
# Stands for the pfSense interface id of the VLAN network named after it (see the docstring).
IFACE_PREFIX = "$iface:"
# The alias of private address space a VLAN network's outbound rule excludes: from a VLAN,
# nothing reaches the LAN, the VPN, another VLAN or the router unless a rule says so. Longer
# than any VLAN network name, so no interface description can take it.
PRIVATE_ALIAS = "k3s_platform_private"
PRIVATE_SPACE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
NTP_PORT = 123


@dataclass(frozen=True)
class DesiredObject:
    """One pfSense object: `role` names the child resource, `payload` is the request body,
    `after` the roles of objects that must exist first (ones this payload refers to)."""

    role: str
    kind: Kind
    payload: dict[str, Any]
    after: tuple[str, ...] = ()
    # Roles this object's resource had before (each becomes a `pulumi.Alias`): a stack made
    # under an old name moves to the new one without a create or a delete.
    aliases: tuple[str, ...] = ()

    @property
    def natural_key(self) -> str:
        return natural_key(self.kind, self.payload)


def _split_host(fqdn: str) -> tuple[str, str]:
    host, _, domain = fqdn.partition(".")
    return host, domain


# --- VLAN networks: device, interface assignment, DHCP server ----------------------------


def vlan_device_role(vlan) -> str:
    return names.vlan_device(vlan.parent, vlan.tag)


def iface_ref(inv: RouterInventory, settings: RouterSettings, network: str) -> str:
    """How a payload names a network's interface: the LAN's id, or a VLAN network's placeholder."""
    return settings.lan_interface if network == "lan" else f"{IFACE_PREFIX}{network}"


def render_vlans(inv: RouterInventory) -> list[DesiredObject]:
    """Per VLAN network: the 802.1Q device, its interface assignment (enabled, static IPv4:
    the router's address), and a DHCP server on it handing out the router as DNS and NTP."""
    out = []
    for vlan in inv.vlans:
        device = vlan_device_role(vlan)
        descr = f"{TAG}: {vlan.description or f'vlan {vlan.tag}'} ({vlan.name} {vlan.cidr})"
        # Ref: Models/InterfaceVLAN.inc — fields if, tag, pcp, descr
        out.append(DesiredObject(device, VLAN, {"if": vlan.parent, "tag": vlan.tag, "descr": descr}))
        # Ref: Models/NetworkInterface.inc — if, enable, descr, typev4, ipaddr, subnet
        out.append(DesiredObject(names.vlan_interface(vlan.name), INTERFACE, {
            "if": vlan.device,
            "enable": True,
            "descr": vlan.interface_descr,
            "typev4": "static",
            "ipaddr": str(vlan.gateway),
            "subnet": vlan.cidr.prefixlen,
            "blockbogons": False,
            "blockpriv": False,
        }, (device,)))
        pool = vlan.dhcp_range
        # Ref: Models/DHCPServer.inc — interface, enable, range_from, range_to, domain,
        #      dnsserver, ntpserver, gateway ("" = the interface address)
        out.append(DesiredObject(names.vlan_dhcp_server(vlan.name), DHCP_SERVER, {
            "interface": f"{IFACE_PREFIX}{vlan.name}",
            "enable": True,
            "range_from": str(pool.start) if pool else "",
            "range_to": str(pool.end) if pool else "",
            "domain": inv.domain,
            "dnsserver": [str(vlan.gateway)],
            "ntpserver": [str(vlan.gateway)],
            "gateway": "",
        }, (names.vlan_interface(vlan.name),)))
    return out


def interface_refs(value: Any) -> set[str]:
    """The VLAN network names a payload refers to by IFACE_PREFIX."""
    if isinstance(value, str):
        return {value[len(IFACE_PREFIX):]} if value.startswith(IFACE_PREFIX) else set()
    if isinstance(value, dict):
        return set().union(*(interface_refs(v) for v in value.values())) if value else set()
    if isinstance(value, (list, tuple)):
        return set().union(*(interface_refs(v) for v in value)) if value else set()
    return set()


def with_interface_ids(value: Any, ids: dict[str, str]) -> Any:
    """`value` with each IFACE_PREFIX placeholder replaced by that network's interface id."""
    if isinstance(value, str) and value.startswith(IFACE_PREFIX):
        return ids[value[len(IFACE_PREFIX):]]
    if isinstance(value, dict):
        return {k: with_interface_ids(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [with_interface_ids(v, ids) for v in value]
    return value


# --- DHCP static mappings: one per node --------------------------------------------------


def static_mapping_role(mac: str) -> str:
    """A node's mapping is named by its MAC (the object's natural key on the router), not by the
    node's name: a renamed node keeps its resource, and the new hostname is an update. Under a
    name of its own, the new resource would adopt the router's mapping by MAC and the old one's
    delete would then remove it (the node's lease gone)."""
    return names.dhcp_mapping(mac)


def legacy_static_mapping_role(node_name: str) -> str:
    """The name mappings had before they were keyed by MAC (stacks made by v0.1.0): an alias."""
    return names.legacy_dhcp_mapping(node_name)


def render_static_mappings(settings: RouterSettings, inv: RouterInventory) -> list[DesiredObject]:
    # Ref: Models/DHCPServerStaticMapping.inc — parent_id is the DHCP server's interface id
    # On a VLAN network the mapping waits for that network's DHCP server (its parent).
    vlan = inv.node_vlan
    after = (names.vlan_dhcp_server(vlan.name),) if vlan else ()
    return [
        DesiredObject(
            static_mapping_role(node.mac),
            STATIC_MAPPING,
            {
                "parent_id": iface_ref(inv, settings, inv.node_network),
                "mac": node.mac,
                "ipaddr": str(node.ip),
                "hostname": node.name,
                "domain": inv.domain,
                "descr": f"{TAG}: k3s {node.role} {node.name}",
            },
            after,
            aliases=(legacy_static_mapping_role(node.name),),
        )
        for node in sorted(inv.nodes, key=lambda n: n.name)
    ]


# --- DNS resolver host overrides: split horizon -------------------------------------------


def render_host_overrides(inv: RouterInventory) -> list[DesiredObject]:
    """Every ingress host -> ingress address and the API name -> API address, so names that
    resolve to the public IP outside resolve to the internal address inside (ACME
    self-checks and in-cluster clients never hairpin through NAT)."""
    # Ref: Models/DNSResolverHostOverride.inc — host, domain, ip (list), descr, aliases
    targets = {host: (inv.ingress_address, "ingress") for host in inv.ingress_hosts}
    targets[inv.api_hostname] = (inv.api_address, "kubernetes api")
    out = []
    for fqdn in sorted(targets):
        address, what = targets[fqdn]
        host, domain = _split_host(fqdn)
        out.append(
            DesiredObject(
                names.dns_override(fqdn),
                HOST_OVERRIDE,
                {
                    "host": host,
                    "domain": domain,
                    "ip": [str(address)],
                    "descr": f"{TAG}: {what}",
                    "aliases": [],
                },
            )
        )
    return out


# --- NAT port forwards 80/443 -------------------------------------------------------------


def render_port_forwards(settings: RouterSettings, inv: RouterInventory) -> list[DesiredObject]:
    """WAN 80/443 -> the ingress address: HAProxy on the router LAN IP in prod, the single
    node in dev. Filter rules are separate (see render_firewall_rules), not auto-created."""
    # Ref: Models/PortForward.inc — associated_rule_id "" = no auto-created filter rule
    out = []
    for port, name in ((80, "http"), (443, "https")):
        out.append(
            DesiredObject(
                f"nat-{name}",
                PORT_FORWARD,
                {
                    "interface": settings.wan_interface,
                    "ipprotocol": "inet",
                    "protocol": "tcp",
                    "source": "any",
                    "destination": f"{settings.wan_interface}:ip",
                    "destination_port": str(port),
                    "target": str(inv.ingress_address),
                    "local_port": str(port),
                    "descr": f"{TAG}: nat {name} to ingress",
                    "associated_rule_id": "",
                },
            )
        )
    return out


# --- Firewall rules -----------------------------------------------------------------------


def _rule(role: str, descr: str, iface: str, proto: str | None, src: object, dst: object, port: int | None,
          after: tuple[str, ...] = ()) -> DesiredObject:
    # src/dst: an address or network, or pfSense's own words ("any", "wan:ip", "!alias").
    # Ref: Models/FirewallRule.inc — type, interface (list), ipprotocol, protocol,
    #      source, destination, destination_port, descr (protocol null = any, no port)
    # A rule on the OpenVPN interface group needs the server (the group is empty until then);
    # one on a VLAN network's interface needs its assignment.
    if iface == OPENVPN_IFACE:
        after = (VPN_SERVER_ROLE, *after)
    elif iface.startswith(IFACE_PREFIX):
        after = (names.vlan_interface(iface[len(IFACE_PREFIX):]), *after)
    payload: dict[str, Any] = {
        "type": "pass",
        "interface": [iface],
        "ipprotocol": "inet",
        "protocol": proto,
        "source": str(src),
        "destination": str(dst),
        "destination_port": None if port is None else str(port),
        "descr": f"{TAG}: {descr}",
    }
    return DesiredObject(role, FIREWALL_RULE, {k: v for k, v in payload.items() if v is not None}, after)


def crosses_router(source_cidr: IPv4Network, destination: IPv4Address, lan_cidr: IPv4Network,
                   router_address: IPv4Address) -> bool:
    """Whether traffic from `source_cidr` to `destination` passes the router's LAN filter.

    Hosts on one subnet talk directly (switched, never routed): a rule for them would never
    match. Traffic to the router's own address (HAProxy in prod) is filtered on the interface,
    and a source outside the LAN (another network, a VLAN) is routed, so both need the rule."""
    if destination == router_address:
        return True
    return not (source_cidr.subnet_of(lan_cidr) and destination in lan_cidr)


def render_firewall_rules(settings: RouterSettings, inv: RouterInventory) -> list[DesiredObject]:
    """WAN: pass only 80/443 (to the NAT target; pfSense filters after translation) and the
    VPN port. Admin networks (LAN side) and the VPN tunnel: pass to 6443 on the API address
    and to 443 on the ingress address (the dashboard). Everything else stays on pfSense's
    default deny for WAN."""
    wan, lan = settings.wan_interface, settings.lan_interface
    rules = [
        _rule("fw-wan-http", "wan http to ingress", wan, "tcp", "any", inv.ingress_address, 80),
        _rule("fw-wan-https", "wan https to ingress", wan, "tcp", "any", inv.ingress_address, 443),
    ]
    vpn = settings.vpn
    if vpn.enabled:
        rules.append(_rule("fw-wan-vpn", "wan openvpn", wan, vpn.protocol, "any", f"{wan}:ip", vpn.port))
    for cidr in inv.admin_cidrs:
        if crosses_router(cidr, inv.api_address, inv.lan_cidr, inv.lan_address):
            rules.append(_rule(names.admin_rule(cidr, "api"), f"admin {cidr} to kubernetes api", lan, "tcp", cidr,
                               inv.api_address, 6443))
        if crosses_router(cidr, inv.ingress_address, inv.lan_cidr, inv.lan_address):
            rules.append(_rule(names.admin_rule(cidr, "dashboard"), f"admin {cidr} to dashboard", lan, "tcp", cidr,
                               inv.ingress_address, 443))
    vlan = inv.node_vlan
    if vlan is not None:
        # The program and admins reach the nodes' SSH across the router.
        for cidr in inv.admin_cidrs:
            if not cidr.subnet_of(vlan.cidr):
                rules.append(_rule(names.admin_rule(cidr, "ssh"), f"admin {cidr} to node ssh", lan, "tcp",
                                   cidr, vlan.cidr, inv.ssh_port))
    rules += render_vlan_rules(inv)
    if vpn.enabled:
        tunnel = vpn.tunnel_cidr
        rules.append(_rule("fw-vpn-api", "vpn to kubernetes api", OPENVPN_IFACE, "tcp", tunnel, inv.api_address, 6443))
        rules.append(_rule("fw-vpn-dashboard", "vpn to dashboard", OPENVPN_IFACE, "tcp", tunnel, inv.ingress_address, 443))
        # VPN clients resolve through the router so split horizon works for them too.
        rules.append(_rule("fw-vpn-dns", "vpn to dns resolver", OPENVPN_IFACE, "tcp/udp", tunnel, inv.lan_address, 53))
    return rules


def render_vlan_rules(inv: RouterInventory) -> list[DesiredObject]:
    """A new pfSense interface passes nothing. Each VLAN network gets: DNS and NTP to the
    router's address on it, and outbound to everything outside private space (images, ACME);
    the one holding the nodes also the router's HAProxy frontends (HA stacks) and each tenant
    egress allowance that leads into private space (the only ways into the LAN)."""
    rules: list[DesiredObject] = []
    for vlan in inv.vlans:
        iface, net, router = f"{IFACE_PREFIX}{vlan.name}", vlan.cidr, vlan.gateway
        prefix = names.vlan_rule_prefix(vlan.name)
        rules.append(_rule(names.child(prefix, "dns"), f"{vlan.name} to dns resolver", iface, "tcp/udp", net, router, 53))
        rules.append(_rule(names.child(prefix, "ntp"), f"{vlan.name} to ntp", iface, "udp", net, router, NTP_PORT))
        if vlan.name == inv.node_network:
            if inv.ha:
                for port, what in ((6443, "kubernetes api"), (80, "ingress http"), (443, "ingress https")):
                    rules.append(_rule(names.child(prefix, "haproxy", port), f"{vlan.name} to {what} on the router", iface,
                                       "tcp", net, router, port))
            for cidr, proto, port in inv.tenant_egress:
                if cidr.subnet_of(vlan.cidr) or not any(cidr.subnet_of(ipaddress.IPv4Network(p)) for p in PRIVATE_SPACE):
                    continue  # same network (switched) or public (the outbound rule passes it)
                rules.append(_rule(names.child(prefix, "egress", _slug(str(cidr)), proto, port),
                                   f"{vlan.name} tenant egress to {cidr} {proto}/{port}", iface, proto, net, cidr,
                                   port))
        rules.append(_rule(names.child(prefix, "outbound"), f"{vlan.name} to the internet", iface, None, net,
                           f"!{PRIVATE_ALIAS}", None, ("fw-alias-private",)))
    return rules


def render_private_alias(inv: RouterInventory) -> list[DesiredObject]:
    """The alias of private address space the VLAN networks' outbound rules exclude."""
    if not inv.vlans:
        return []
    # Ref: Models/FirewallAlias.inc — name, type, descr, address (list), detail (list)
    return [DesiredObject("fw-alias-private", FIREWALL_ALIAS, {
        "name": PRIVATE_ALIAS,
        "type": "network",
        "descr": f"{TAG}: private address space (vlan outbound rules exclude it)",
        "address": list(PRIVATE_SPACE),
        "detail": ["rfc1918"] * len(PRIVATE_SPACE),
    })]


# --- HAProxy (prod only) ------------------------------------------------------------------


def _backend(name: str, nodes, port: int, proxy_protocol: bool) -> DesiredObject:
    # Ref: Models/HAProxyBackend.inc — name, servers (nested HAProxyBackendServer: name,
    #      address, port, weight, status, advanced), balance, check_type, checkinter
    servers = [
        {
            "name": f"{node.name}-{port}",
            "address": str(node.ip),
            "port": str(port),
            "weight": 1,
            "status": "active",
            # HAProxy's per-server option; Traefik trusts PROXY v2 from the router only.
            "advanced": "send-proxy-v2" if proxy_protocol else "",
        }
        for node in sorted(nodes, key=lambda n: n.name)
    ]
    return DesiredObject(
        f"haproxy-backend-{name}",
        HAPROXY_BACKEND,
        {
            "name": name,
            "servers": servers,
            "balance": "roundrobin" if port == 6443 else "source",
            # "Basic" = TCP connect check, fine for both the API and Traefik's entrypoints.
            "check_type": "Basic",
            "checkinter": HEALTH_CHECK_INTERVAL_MS,
            "log_health_checks": True,
            "connection_timeout": 5000,
            "server_timeout": 3600000 if port == 6443 else 60000,  # long-lived kubectl watches
            "retries": 3,
            "advanced_backend": BACKEND_MARK,  # the owner tag: a comment line in the backend section
        },
    )


def _frontend(name: str, address: IPv4Address, port: int, backend: str, descr: str) -> DesiredObject:
    # Ref: Models/HAProxyFrontend.inc — name, descr, status, type, backend_serverpool,
    #      a_extaddr (nested HAProxyFrontendAddress: extaddr, extaddr_custom, extaddr_port)
    return DesiredObject(
        f"haproxy-frontend-{name}",
        HAPROXY_FRONTEND,
        {
            "name": name,
            "descr": f"{TAG}: {descr}",
            "status": "active",
            "type": "tcp",
            "backend_serverpool": backend,
            "a_extaddr": [
                {"extaddr": "custom", "extaddr_custom": str(address), "extaddr_port": str(port), "extaddr_ssl": False}
            ],
            "client_timeout": 3600000 if port == 6443 else 60000,
        },
        (f"haproxy-backend-{backend}",),  # refers to its backend by name
    )


def render_haproxy(inv: RouterInventory) -> list[DesiredObject]:
    """TCP 6443 -> every server; TCP 80/443 -> every node (Traefik answers on each via
    k3s ServiceLB), health-checked, PROXY v2 to Traefik when enabled. Empty in dev."""
    if not inv.ha:
        return []
    api, lan = inv.api_address, inv.ingress_address
    objs = [
        _backend("k3s-api", inv.servers, 6443, False),
        # Only the nodes Traefik runs on: elsewhere ServiceLB would masquerade the connection.
        _backend("ingress-http", inv.ingress_backends, 80, inv.proxy_protocol),
        _backend("ingress-https", inv.ingress_backends, 443, inv.proxy_protocol),
    ]
    objs += [
        _frontend("k3s-api", api, 6443, "k3s-api", "kubernetes api"),
        _frontend("ingress-http", lan, 80, "ingress-http", "ingress http"),
        _frontend("ingress-https", lan, 443, "ingress-https", "ingress https"),
    ]
    return objs


# --- OpenVPN server -----------------------------------------------------------------------


def vpn_endpoint(settings: RouterSettings, inv: RouterInventory) -> str:
    """The public name VPN clients dial: vpn.endpoint, default vpn.<domain>."""
    return settings.vpn.endpoint or f"vpn.{inv.domain}"


def render_openvpn_server(settings: RouterSettings, inv: RouterInventory, tls_key: str) -> DesiredObject:
    """The OpenVPN server (certificate-only, tun, tls-crypt). `tls_key` is the static key
    text (secret); CA and certificate are referenced by description and resolved to pfSense
    refids at deploy time."""
    vpn = settings.vpn
    # Ref: Models/OpenVPNServer.inc (pfrest/pfSense-pkg-RESTAPI, read at 96aaf176):
    # - dh_length choices are the keys of pfSense's $openvpn_dh_lengths, which always holds
    #   "none" => "ECDH Only" (pfsense/pfsense src/etc/inc/openvpn.inc); our certs are ECDSA.
    # - ecdh_curve choices are openvpn_get_curvelist(): "none" ("Use Default") plus the
    #   OpenVPN-compatible curves. "none" makes OpenVPN use the server certificate's own curve
    #   (P-256 here), so no curve name has to match the router's list.
    # - use_tls (representation only) must be true for tls/tls_type to be taken at all.
    # - dns_domain/dns_server1 only apply in the *_user modes (their `conditions`); in
    #   server_tls they are dropped silently, so the resolver is pushed with custom_options
    #   (many, stored ';'-delimited) — split horizon for VPN clients depends on it.
    push = [f'push "dhcp-option DNS {inv.lan_address}"', f'push "dhcp-option DOMAIN {inv.domain}"']
    return DesiredObject(
        VPN_SERVER_ROLE,
        OPENVPN_SERVER,
        {
            "description": VPN_SERVER_DESCR,
            "mode": "server_tls",
            "dev_mode": "tun",
            "protocol": "UDP4" if vpn.protocol == "udp" else "TCP4",
            "interface": settings.wan_interface,
            "local_port": str(vpn.port),
            "use_tls": True,
            "tls": tls_key,
            "tls_type": "crypt",
            "caref": f"{REFID_PREFIX}certificate_authority:{VPN_CA_DESCR}",
            "certref": f"{REFID_PREFIX}certificate:{VPN_SERVER_CERT_DESCR}",
            "cert_depth": 1,
            "dh_length": "none",
            "ecdh_curve": "none",
            "data_ciphers": list(VPN_CIPHERS),
            "data_ciphers_fallback": VPN_CIPHERS[0],
            "digest": VPN_DIGEST,
            "remote_cert_tls": True,
            "tunnel_network": str(vpn.tunnel_cidr),
            # VPN admins reach the LAN, and the nodes' VLAN network when they live on one.
            "local_network": [str(inv.lan_cidr)] + ([str(inv.node_vlan.cidr)] if inv.node_vlan else []),
            "topology": "subnet",
            "custom_options": push,
            "gwredir": False,
        },
        (VPN_CA_ROLE, VPN_SERVER_CERT_ROLE),  # its caref and certref
    )


def render_vpn_certificates(ca_pem: Any, server: tuple[Any, Any], clients: dict[str, tuple[Any, Any]]) -> list[DesiredObject]:
    """The imports of the VPN CA (certificate only: its key stays out of the router), the
    server certificate and one certificate per client. `server` and each client are
    (certificate PEM, key PEM); the PEMs are passed through untouched, so they may be
    Pulumi Outputs."""
    # Ref: Models/CertificateAuthority.inc — descr, crt, trust, randomserial (prv omitted)
    objs = [
        DesiredObject(
            VPN_CA_ROLE,
            CERTIFICATE_AUTHORITY,
            {"descr": VPN_CA_DESCR, "crt": ca_pem, "trust": False, "randomserial": True},
        )
    ]
    # Ref: Models/Certificate.inc — descr, type, crt, prv
    cert_pem, key_pem = server
    objs.append(
        DesiredObject(
            VPN_SERVER_CERT_ROLE,
            CERTIFICATE,
            {"descr": VPN_SERVER_CERT_DESCR, "type": "server", "crt": cert_pem, "prv": key_pem},
            (VPN_CA_ROLE,),
        )
    )
    for client, (cert_pem, key_pem) in clients.items():
        objs.append(
            DesiredObject(
                names.vpn_client_import(client),
                CERTIFICATE,
                {"descr": f"{TAG}-vpn-client-{client}", "type": "user", "crt": cert_pem, "prv": key_pem},
                (VPN_CA_ROLE,),
            )
        )
    return objs


def render_vpn_revocations(settings: RouterSettings) -> list[DesiredObject]:
    """One blocking client specific override per `vpn.revokedClients` name. Client
    certificates carry CN = the admin name (vpn_pki.py), so the server refuses the revoked
    admin's certificate although it is still signed by our CA (no CRL: the CA key never
    reaches the router). Empty with the VPN off (the config refuses the list then)."""
    if not settings.vpn.enabled:
        return []
    # Ref: Models/OpenVPNClientSpecificOverride.inc (pfrest/pfSense-pkg-RESTAPI, read at
    # 805c7f0c) — common_name, block (stored 'yes'/''), disable, description, server_list.
    # - block: pfSense writes `disable` into the csc file (openvpn_resync_csc in pfSense's
    #   src/etc/inc/openvpn.inc), which makes OpenVPN refuse that common name.
    # - disable must stay false: a disabled override is deleted, not written.
    # - server_list is left empty: optional (default [], allow_empty), and empty means every
    #   OpenVPN server (so says the field's help; openvpn_resync_csc writes the override for
    #   each TLS server). Naming ours would need
    #   its `vpnif`, which pfSense assigns; we own only one server anyway.
    return [
        DesiredObject(
            names.vpn_revocation(name),
            OPENVPN_CLIENT_OVERRIDE,
            {
                "common_name": name,
                "block": True,
                "disable": False,
                "description": f"{TAG}: revoked vpn admin {name}",
                "server_list": [],
            },
            (VPN_SERVER_ROLE,),  # the csc file is written per existing server
        )
        for name in settings.vpn.revoked_clients
    ]


# --- the whole plan -----------------------------------------------------------------------


def render_objects(settings: RouterSettings, inv: RouterInventory) -> list[DesiredObject]:
    """Every object whose payload is known without secrets (everything but the OpenVPN
    server and certificates), in a stable order."""
    return (
        render_vlans(inv)
        + render_private_alias(inv)
        + render_static_mappings(settings, inv)
        + render_host_overrides(inv)
        + render_port_forwards(settings, inv)
        + render_firewall_rules(settings, inv)
        + render_haproxy(inv)
        + render_vpn_revocations(settings)
    )

