"""The whole stack config: its sections, the facts derived from them (admin sources, the
router inventory, ingress hosts) and the cross-field rules that span sections."""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import IPv4Address, IPv4Network
from typing import Any
from urllib.parse import urlsplit

from components import names
from components.config import k3s_options
from components.config.cluster import Cluster
from components.config.network import Lan, Network, VlanNetwork
from components.config.platform import RESERVED_NAMESPACES, Person, PlatOps, Tenant
from components.config.router import RouterInventory, RouterSettings
from components.config.system import Certificates, Charts, Ingress
from components.config.types import Hostname, Model
from components.quantity import parse_quantity

# HAProxy's frontends on the router's LAN address in HA stacks: ingress and the API.
HAPROXY_PORTS = (80, 443, 6443)



# --- the stack ---------------------------------------------------------------------------


class StackConfig(Model):
    """Every section of the stack config, and the facts derived from them."""

    domain: Hostname
    network: Network
    cluster: Cluster
    ingress: Ingress
    certificates: Certificates
    platops: PlatOps = PlatOps()
    tenants: tuple[Tenant, ...] = ()
    people: tuple[Person, ...] = ()
    router: RouterSettings
    charts: Charts = Charts()

    @property
    def ingress_hosts(self) -> tuple[str, ...]:
        """Every hostname routed by Traefik: tenant hosts then the dashboard."""
        hosts = [h for t in self.tenants for h in t.hosts]
        return tuple(dict.fromkeys(hosts + [self.ingress.dashboard_host]))

    @property
    def vpn_tunnel(self) -> IPv4Network | None:
        """The OpenVPN tunnel network when the VPN is on (its one home: router.vpn.tunnelCidr)."""
        return self.router.vpn.active_tunnel

    @property
    def admin_sources(self) -> tuple[IPv4Network, ...]:
        """Every range admins come from: network.adminCidrs, then the VPN tunnel when the VPN
        is on (each once). It feeds the dashboard's IP allow-list."""
        extra = (self.vpn_tunnel,) if self.vpn_tunnel is not None else ()
        return tuple(dict.fromkeys((*self.network.admin_cidrs, *extra)))

    @property
    def ingress_nodes(self) -> tuple[str, ...]:
        """Where Traefik runs and HAProxy sends 80/443: `ingress.nodes`, or the first
        `replicas` agents, then servers. One set for both, so no client
        reaches a node without Traefik (ServiceLB would masquerade it: the client address and
        the PROXY header's trusted source are lost)."""
        return ingress_node_names(self.cluster, self.ingress)

    @property
    def node_network(self) -> Lan | VlanNetwork:
        """The network the nodes live on (`cluster.network`): the LAN or a VLAN network."""
        return self.network.named(self.cluster.network)

    @property
    def node_gateway(self) -> IPv4Address:
        """The router's address on the nodes' network: where HAProxy listens in HA stacks and
        the source Traefik trusts PROXY headers from."""
        return self.node_network.gateway

    @property
    def router_inventory(self) -> RouterInventory:
        """What the router must know about the rest of the platform: one node list and one
        host list drive leases, DNS, NAT and HAProxy backends."""
        cluster, lan = self.cluster, self.network.lan
        nodes = cluster.members
        # prod: HAProxy on the router fronts the API and ingress, on the router's address in
        # the nodes' network; dev: the single node serves both.
        front = self.node_gateway if cluster.ha else cluster.servers[0].ip
        egress = tuple(dict.fromkeys((e.cidr, e.protocol.lower(), p)
                                     for t in self.tenants for e in t.egress for p in e.ports))
        return RouterInventory(
            domain=self.domain, nodes=nodes, ingress_hosts=self.ingress_hosts,
            api_hostname=cluster.api_hostname, ingress_address=front, api_address=front,
            lan_cidr=lan.cidr, lan_address=lan.gateway, ha=cluster.ha, proxy_protocol=cluster.ha,
            admin_cidrs=self.network.admin_cidrs,  # LAN-side: none is in the tunnel
            ingress_nodes=tuple(n for n in nodes if n.name in self.ingress_nodes),
            vlans=self.network.vlans, node_network=cluster.network, ssh_port=cluster.ssh.port,
            tenant_egress=egress)


# --- cross-field checks (run once every field parsed) ----------------------------------


def _under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _lan_rules(network: Network) -> list[str]:
    lan, problems = network.lan, []
    if lan.gateway not in lan.cidr:
        problems.append(f"network.lan.gateway: {lan.gateway} is outside {lan.cidr} — pick an address in the LAN")
    elif lan.cidr.prefixlen < 31 and lan.gateway in (lan.cidr.network_address, lan.cidr.broadcast_address):
        what = "network" if lan.gateway == lan.cidr.network_address else "broadcast"
        problems.append(f"network.lan.gateway: {lan.gateway} is the {what} address of {lan.cidr} — give the "
                        "router a host address (e.g. the first one)")
    elif lan.gateway in lan.dhcp_range:
        problems.append(f"network.lan.dhcpRange: {lan.dhcp_range.start}-{lan.dhcp_range.end} holds the router's "
                        f"address {lan.gateway} — the pool would lease it to a client; start the pool after it")
    for end in ("start", "end"):
        ip = getattr(lan.dhcp_range, end)
        if ip not in lan.cidr:
            problems.append(f"network.lan.dhcpRange.{end}: {ip} is outside {lan.cidr} — pick an address in the LAN")
    return problems


# Private address space (RFC 1918): where a VLAN network may live.
PRIVATE_SPACE = (IPv4Network("10.0.0.0/8"), IPv4Network("172.16.0.0/12"), IPv4Network("192.168.0.0/16"))


def _router_networks(network: Network, router: RouterSettings | None) -> dict[str, IPv4Network]:
    """The networks the router owns besides the LAN: its VLAN networks and the VPN tunnel (when on)."""
    nets: dict[str, IPv4Network] = {f"network.vlans[{i}].cidr": v.cidr for i, v in enumerate(network.vlans)}
    if router is not None and router.vpn.active_tunnel is not None:
        nets["router.vpn.tunnelCidr"] = router.vpn.active_tunnel
    return nets


def _vlan_rules(network: Network) -> list[str]:
    """Each VLAN network: one per name and per parent/tag, in private space, the router's
    address a host address of it and outside its DHCP pool, the pool inside it."""
    problems: list[str] = []
    seen_names: dict[str, int] = {}
    tags: dict[tuple[str, int], int] = {}
    for i, vlan in enumerate(network.vlans):
        key = f"network.vlans[{i}]"
        if vlan.name in seen_names:
            problems.append(f"{key}.name: {vlan.name} is already used by network.vlans[{seen_names[vlan.name]}] — "
                            "give each VLAN network its own name")
        seen_names.setdefault(vlan.name, i)
        if (vlan.parent, vlan.tag) in tags:
            problems.append(f"{key}.tag: VLAN {vlan.tag} on {vlan.parent} is already network.vlans"
                            f"[{tags[vlan.parent, vlan.tag]}] — use another tag (one network per tag and parent)")
        tags.setdefault((vlan.parent, vlan.tag), i)
        if not any(vlan.cidr.subnet_of(space) for space in PRIVATE_SPACE):
            problems.append(f"{key}.cidr: {vlan.cidr} is not private address space — pick a range inside "
                            "10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16")
        if vlan.cidr.prefixlen > 30:
            problems.append(f"{key}.cidr: {vlan.cidr} is too small — use a /30 or larger network")
        if vlan.gateway not in vlan.cidr:
            problems.append(f"{key}.gateway: {vlan.gateway} is outside {vlan.cidr} — pick an address in the network")
        elif vlan.gateway in (vlan.cidr.network_address, vlan.cidr.broadcast_address):
            problems.append(f"{key}.gateway: {vlan.gateway} is the network or broadcast address of {vlan.cidr} — "
                            "pick a host address")
        pool = vlan.dhcp_range
        if pool is not None:
            for end in ("start", "end"):
                ip = getattr(pool, end)
                if ip not in vlan.cidr:
                    problems.append(f"{key}.dhcpRange.{end}: {ip} is outside {vlan.cidr} — pick an address in the "
                                    "network")
            if vlan.gateway in pool:
                problems.append(f"{key}.gateway: {vlan.gateway} is inside the DHCP range {pool.start}-{pool.end} — "
                                "move the pool or the router's address (the pool must not hand it out)")
    return problems


def _node_network_rules(network: Network, cluster: Cluster) -> list[str]:
    known = ["lan", *(v.name for v in network.vlans)]
    if cluster.network not in known:
        return [f"cluster.network: {cluster.network!r} is not a network of this stack — use one of "
                f"{', '.join(known)} (a VLAN network is declared under network.vlans)"]
    return []


# Smallest pod and service ranges: k3s gives each node a /24 of the pod range, and the
# service range holds every ClusterIP (a /24 is 254 Services).
_MIN_POD_PREFIX = 22
_MIN_SERVICE_PREFIX = 24


def _cidr_rules(network: Network, cluster: Cluster, router: RouterSettings | None = None) -> list[str]:
    """Every network the platform routes is disjoint from every other one; the cluster's own
    ranges are private and large enough."""
    cidrs = {"network.lan.cidr": network.lan.cidr, **_router_networks(network, router),
             "cluster.podCidr": cluster.pod_cidr, "cluster.serviceCidr": cluster.service_cidr}
    keys, problems = list(cidrs), []
    for key, cidr, widest in (("cluster.podCidr", cluster.pod_cidr, _MIN_POD_PREFIX),
                              ("cluster.serviceCidr", cluster.service_cidr, _MIN_SERVICE_PREFIX)):
        if not is_private(cidr):
            problems.append(f"{key}: {cidr} is not a private range — pods and services would shadow public "
                            "addresses; use one inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16")
        elif cidr.prefixlen > widest:
            problems.append(f"{key}: {cidr} is too small — use a /{widest} or larger (k3s gives each node a /24 "
                            "of the pod range; the service range holds every ClusterIP)")
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            if cidrs[a].overlaps(cidrs[b]):
                problems.append(f"{b}: {cidrs[b]} overlaps {a} {cidrs[a]} — choose disjoint ranges")
    return problems


# Address space a home or office network may use for itself (RFC 1918, and RFC 6598's shared
# space, which VPNs such as Tailscale use): an owned network outside it is not private.
PRIVATE_RANGES = tuple(IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"))


def is_private(cidr: IPv4Network) -> bool:
    return any(cidr.subnet_of(p) for p in PRIVATE_RANGES)


def _admin_rules(network: Network, cluster: Cluster, router: RouterSettings | None = None) -> list[str]:
    """Admin ranges, by containment: each listed once, never inside the VPN tunnel (every
    client already is one), never inside the pod or service range (those addresses are
    the cluster's own: an "admin" there is any pod), and inside the private networks the
    platform owns (LAN, VLANs) unless network.allowPublicAdmin says otherwise."""
    problems: list[str] = []
    first: dict[IPv4Network, int] = {}
    owned = {"network.lan.cidr": network.lan.cidr, **_router_networks(network, router)}
    tunnel = router.vpn.active_tunnel if router is not None else None
    cluster_ranges = {"cluster.podCidr": cluster.pod_cidr, "cluster.serviceCidr": cluster.service_cidr}
    for i, cidr in enumerate(network.admin_cidrs):
        key = f"network.adminCidrs[{i}]"
        if cidr in first:
            problems.append(f"{key}: {cidr} is already listed as network.adminCidrs[{first[cidr]}] — list each range once")
            continue
        first[cidr] = i
        home = [k for k, n in owned.items() if cidr.subnet_of(n)]
        clash = next((k for k, r in cluster_ranges.items() if cidr.subnet_of(r)), None)
        if clash and not home:  # inside an owned network too: the disjointness rule names it
            problems.append(
                f"{key}: {cidr} is inside {clash} {cluster_ranges[clash]} — those addresses belong to the "
                "cluster's pods and services, so every workload would count as an admin; name the LAN "
                "range admins come from")
            continue
        if tunnel is not None and cidr.subnet_of(tunnel):
            # Listed here it would read as a restriction, yet every VPN client is an admin
            # source (rules on the OpenVPN interface); adminCidrs are the LAN-side ranges.
            problems.append(
                f"{key}: {cidr} is inside the VPN tunnel (router.vpn.tunnelCidr {tunnel}) — every VPN "
                "client is already an admin source, so this entry would neither add nor restrict "
                "anything; remove it (to cut one VPN admin off, move them from router.vpn.clients to "
                "router.vpn.revokedClients)")
            continue
        if network.allow_public_admin:
            continue
        if not home or not is_private(cidr):
            where = "not inside the LAN, the VLANs or the VPN tunnel" if not home else \
                f"inside {home[0]}, which is not a private range (RFC 1918 or 100.64.0.0/10)"
            problems.append(
                f"{key}: {cidr} is {where} — it would open the Kubernetes API (6443) and the "
                "Traefik dashboard (behind basic auth only) to every address in it; use a range inside "
                "the networks the platform owns, or set network.allowPublicAdmin: true to accept that")
    return problems


def _server_count_rules(cluster: Cluster) -> list[str]:
    if not cluster.servers:
        return ["cluster.servers: no servers — declare at least one k3s server"]
    if len(cluster.servers) % 2 == 0:
        return [f"cluster.servers: {len(cluster.servers)} servers give embedded etcd no quorum after one "
                "failure — use 1 or 3 (an odd number)"]
    return []


def _k3s_option_rules(cluster: Cluster) -> list[str]:
    """Every passed-through k3s key is a flag of its node's role at the pinned k3s version, of
    the right kind, and none the program renders itself (k3s_options.py)."""
    problems = []
    groups = (("server", "cluster.k3s.server", cluster.k3s.server), ("agent", "cluster.k3s.agent", cluster.k3s.agent))
    for role, where, keys in groups:
        for key, value in keys.items():
            problem = k3s_options.key_problem(role, key, value) or k3s_options.arg_conflict(key, value)
            if problem:
                problems.append(f"{where}.{key}: {problem}")
    for group, role in (("servers", "server"), ("agents", "agent")):
        for i, node in enumerate(getattr(cluster, group)):
            for key, value in node.k3s.items():
                problem = (k3s_options.key_problem(role, key, value, per_node=True)
                           or k3s_options.arg_conflict(key, value))
                if problem:
                    problems.append(f"cluster.{group}[{i}].k3s.{key}: {problem}")
    if cluster.etcd_snapshots.s3 is not None and not cluster.ha:
        problems.append("cluster.etcdSnapshots.s3: a single server keeps its data in SQLite, which k3s "
                        "does not snapshot — add servers (3) for embedded etcd, or remove s3")
    registries = cluster.registries
    if registries is not None and not (registries.mirrors or registries.configs):
        problems.append("cluster.registries: neither mirrors nor configs — add one, or remove the key")
    return problems


def _node_rules(network: Network, cluster: Cluster) -> list[str]:
    """Nodes: names, IPs and MACs unique; each address a host address of the nodes' network
    (`cluster.network`), not the router's and outside its DHCP pool."""
    problems: list[str] = []
    if _node_network_rules(network, cluster):
        net = None  # reported by _node_network_rules; addresses cannot be checked against it
    else:
        net = network.named(cluster.network)
    where = "the LAN" if cluster.network == "lan" else f"the VLAN network {cluster.network}"
    seen: dict[str, dict[Any, str]] = {"name": {}, "ip": {}, "mac": {}}
    for group in ("servers", "agents"):
        for i, node in enumerate(getattr(cluster, group)):
            key = f"cluster.{group}[{i}]"
            for attr, known in seen.items():
                value = getattr(node, attr)
                if value in known:
                    problems.append(f"{key}.{attr}: {value} is already used by {known[value]} — make it unique")
                else:
                    known[value] = key
            if net is None:
                continue
            if node.ip not in net.cidr:
                problems.append(f"{key}.ip: {node.ip} is outside {where} {net.cidr} — give the node an address in it")
            elif node.ip in (net.cidr.network_address, net.cidr.broadcast_address) and net.cidr.prefixlen < 31:
                what = "network" if node.ip == net.cidr.network_address else "broadcast"
                problems.append(f"{key}.ip: {node.ip} is the {what} address of {net.cidr} — pick a host address")
            elif node.ip == net.gateway:
                problems.append(f"{key}.ip: {node.ip} is the router's address — give the node its own address")
            elif net.dhcp_range is not None and node.ip in net.dhcp_range:
                problems.append(
                    f"{key}.ip: {node.ip} is inside the DHCP range {net.dhcp_range.start}-{net.dhcp_range.end}"
                    " — pick an address outside it (static leases must not collide with the pool)"
                )
    return problems


def _tenant_rules(tenants: tuple[Tenant, ...]) -> list[str]:
    problems: list[str] = []
    first_use: dict[str, int] = {}
    for i, tenant in enumerate(tenants):
        key = f"tenants[{i}]"
        if tenant.name in first_use:
            problems.append(f"{key}.name: {tenant.name} is already used by tenants[{first_use[tenant.name]}] — make it unique")
        first_use.setdefault(tenant.name, i)
        if tenant.name in RESERVED_NAMESPACES:
            problems.append(f"{key}.name: {tenant.name} is a system namespace — pick another tenant name")
        problems += _limits_within_quota(key, tenant)
        if tenant.sample_app and tenant.sample_app.port not in tenant.app_ports:
            problems.append(
                f"{key}.sampleApp.port: {tenant.sample_app.port} is not in appPorts — add it to "
                f"{key}.appPorts so Traefik may reach it"
            )
        if tenant.sample_app and tenant.sample_app.replicas > tenant.quota.pods:
            problems.append(
                f"{key}.sampleApp.replicas: {tenant.sample_app.replicas} is above {key}.quota.pods "
                f"{tenant.quota.pods} — the quota would refuse the extra pods; lower it or raise the quota"
            )
    return problems


# The CN of the program's own client certificate (components/cluster/cluster_cas.py).
PROGRAM_USER = "k3s-platform"


def _people_rules(people: tuple[Person, ...], tenants: tuple[Tenant, ...] | None) -> list[str]:
    """Each person once; AppOps people name tenants that exist, PlatOps people none.
    (`tenants` None: that section did not parse, and its own errors are reported.)"""
    problems: list[str] = []
    known = {t.name for t in tenants or ()}
    first: dict[str, int] = {}
    for i, person in enumerate(people):
        key = f"people[{i}]"
        if person.name in first:
            problems.append(f"{key}.name: {person.name} is already listed as people[{first[person.name]}] — "
                            "list each person once (give them every tenant in one entry)")
        first.setdefault(person.name, i)
        if person.name == PROGRAM_USER:
            problems.append(f"{key}.name: {PROGRAM_USER} is the program's own user — pick another name")
        if person.role == "platops" and person.tenants:
            problems.append(f"{key}.tenants: a platops person administers every namespace — remove tenants "
                            "(or make them role: appops)")
        if person.role == "appops" and not person.tenants:
            problems.append(f"{key}.tenants: an appops person needs at least one tenant — list the tenants "
                            "they run apps in")
        for j, tenant in enumerate(person.tenants):
            if tenants is not None and tenant not in known:
                problems.append(f"{key}.tenants[{j}]: {tenant!r} is not a tenant of this stack — name one of "
                                f"{', '.join(sorted(known)) or '(none: add it under tenants)'}")
        if len(set(person.tenants)) != len(person.tenants):
            problems.append(f"{key}.tenants: a tenant is listed twice — list each once")
    return problems


def ingress_node_names(cluster: Cluster, ingress: Ingress) -> tuple[str, ...]:
    if ingress.nodes:
        return tuple(ingress.nodes)
    pool = (*cluster.agents, *cluster.servers)  # agents first: servers keep the control plane
    return tuple(n.name for n in pool[:ingress.replicas])


def _ingress_replica_rules(cluster: Cluster, ingress: Ingress) -> list[str]:
    """An HA stack keeps a spare Traefik (its PodDisruptionBudget needs one); Traefik runs one
    replica on each ingress node, and those are nodes of the cluster."""
    problems = []
    if cluster.ha and ingress.replicas < 2:
        problems.append(f"ingress.replicas: {ingress.replicas} leaves no spare Traefik in an HA stack — set it to 2 or more")
    known = {n.name for n in (*cluster.servers, *cluster.agents)}
    for i, name in enumerate(ingress.nodes):
        if name not in known:
            problems.append(f"ingress.nodes[{i}]: {name!r} is not a node of cluster.servers or cluster.agents — "
                            f"name one of {', '.join(sorted(known))}")
    if len(set(ingress.nodes)) != len(ingress.nodes):
        problems.append("ingress.nodes: a node is listed twice — list each ingress node once")
    if ingress.nodes and len(ingress.nodes) != ingress.replicas:
        problems.append(f"ingress.nodes: {len(ingress.nodes)} nodes but ingress.replicas is {ingress.replicas} — "
                        "Traefik runs one replica on each ingress node: make the two agree")
    elif not ingress.nodes and len(known) < ingress.replicas:
        problems.append(f"ingress.replicas: {ingress.replicas} Traefik replicas need as many ingress nodes, and the "
                        "cluster has fewer — lower replicas or add nodes")
    return problems


def _router_port_rules(network: Network, cluster: Cluster, router: RouterSettings) -> list[str]:
    """With several servers HAProxy binds 80, 443 and 6443 on the router's LAN address; the
    pfSense web GUI (which serves pfrest) must not hold one of them there."""
    if not cluster.ha:
        return []
    url = urlsplit(router.api_url)
    port = url.port or (443 if url.scheme == "https" else 80)
    # HAProxy binds the router's address on the nodes' network; the GUI listens on every
    # address, so a GUI on the LAN address holds the same ports there too.
    if url.hostname in (str(network.lan.gateway), *(str(v.gateway) for v in network.vlans)) \
            and port in HAPROXY_PORTS:
        return [
            f"router.apiUrl: the pfSense web GUI on {url.hostname}:{port} would hold a port HAProxy "
            f"needs ({', '.join(map(str, HAPROXY_PORTS))}) — move the GUI to another port "
            "(System > Advanced > Admin Access, e.g. 8443), tick 'Disable webConfigurator redirect "
            "rule' there (it holds port 80), and set router.apiUrl to https://<router>:8443"
        ]
    return []


# NAT port forwards on WAN (network/payloads.py render_port_forwards): TCP only.
WAN_NAT_TCP_PORTS = (80, 443)
# Let's Encrypt issues at most 100 names per certificate; a tenant's hosts share one.
ACME_NAMES_PER_CERTIFICATE = 100


def _vpn_port_rules(router: RouterSettings) -> list[str]:
    """The OpenVPN server listens on WAN beside the NAT of 80/443 to the ingress: on TCP one of
    those ports, one of the two would never get its connections."""
    vpn = router.vpn
    if vpn.enabled and vpn.protocol == "tcp" and vpn.port in WAN_NAT_TCP_PORTS:
        return [f"router.vpn.port: TCP {vpn.port} on WAN is forwarded to the ingress (NAT of TCP "
                f"{' and '.join(map(str, WAN_NAT_TCP_PORTS))}) — give the VPN another port (1194 is OpenVPN's) "
                "or protocol udp"]
    return []


def _certificate_size_rules(tenants: tuple[Tenant, ...], certificates: Certificates) -> list[str]:
    """Each tenant's hosts share one certificate (system/tls_route.py); Let's Encrypt refuses
    a certificate with more than 100 names, so the tenant would never get one."""
    if certificates.issuer != "acme":
        return []
    return [f"tenants[{i}].hosts: {len(t.hosts)} hosts, but Let's Encrypt puts at most "
            f"{ACME_NAMES_PER_CERTIFICATE} names on one certificate and the tenant's hosts share one — "
            "split the tenant, or use fewer hosts"
            for i, t in enumerate(tenants) if len(t.hosts) > ACME_NAMES_PER_CERTIFICATE]


def _reserved_names(sections: Mapping[str, Any]) -> dict[str, str]:
    """Names the router already answers for, lowercased -> what they are: each node's name in
    the domain (its DHCP static mapping registers it) and the VPN endpoint."""
    domain = sections["domain"]
    out: dict[str, str] = {}
    if "cluster" in sections:
        for group in ("servers", "agents"):
            for i, node in enumerate(getattr(sections["cluster"], group)):
                out[f"{node.name}.{domain}".lower()] = f"the name of node cluster.{group}[{i}]"
    router = sections.get("router")
    if router is not None and router.vpn.enabled:
        endpoint = router.vpn.endpoint or f"vpn.{domain}"
        out[endpoint.lower()] = "the VPN endpoint (router.vpn.endpoint, default vpn.<domain>)"
    return out


def _host_rules(sections: Mapping[str, Any]) -> list[str]:
    """Every hostname under `domain`, and each used once (API, dashboard, tenant hosts); no
    ingress host shadows a node's or the VPN's name (its DNS override would send them to the
    ingress)."""
    domain = sections["domain"]
    named: list[tuple[str, str]] = []  # (dotted key, host), in config order
    if "cluster" in sections:
        named.append(("cluster.apiHostname", sections["cluster"].api_hostname))
    if "ingress" in sections:
        named.append(("ingress.dashboardHost", sections["ingress"].dashboard_host))
    for i, tenant in enumerate(sections.get("tenants", ())):
        named += [(f"tenants[{i}].hosts[{j}]", host) for j, host in enumerate(tenant.hosts)]
    problems: list[str] = []
    owners: dict[str, str] = {}
    for key, host in named:
        if not _under(host, domain):
            problems.append(f"{key}: {host} is not under {domain} — use a name in the domain")
        if host in owners:
            problems.append(f"{key}: {host} is already used by {owners[host]} — each host belongs to one place")
        owners.setdefault(host, key)
    reserved = _reserved_names(sections)
    for key, host in named:
        if key != "cluster.apiHostname" and host.lower() in reserved:
            problems.append(f"{key}: {host} is {reserved[host.lower()]} — its DNS override would send that name "
                            "to the ingress; use another host name")
    return problems


def _router_addresses(network: Network, router: RouterSettings | None) -> list[IPv4Address]:
    """The router's own addresses: its LAN and VLAN gateways, and the API host when it is one."""
    out = [network.lan.gateway, *(v.gateway for v in network.vlans)]
    if router is not None:
        try:
            out.append(IPv4Address(urlsplit(router.api_url).hostname or ""))
        except ValueError:
            pass
    return out


def config_warnings(config: StackConfig) -> list[str]:
    """Settings that are allowed but widen access, as `dotted.key: message` lines (the plan
    prints them, `pulumi up` logs them as warnings): tenant egress into the pod or service range
    (other tenants' pods and services), or to the router's web GUI and API."""
    out: list[str] = []
    cluster, network, router = config.cluster, config.network, config.router
    url = urlsplit(router.api_url)
    gui_port = url.port or (443 if url.scheme == "https" else 80)
    routers = _router_addresses(network, router)
    for i, tenant in enumerate(config.tenants):
        for j, allow in enumerate(tenant.egress):
            key = f"tenants[{i}].egress[{j}].cidr"
            for what, cidr in (("pod", cluster.pod_cidr), ("service", cluster.service_cidr)):
                if allow.cidr.overlaps(cidr):
                    out.append(f"{key}: {allow.cidr} overlaps the {what} range {cidr} — the tenant's pods may reach "
                               f"other tenants' {what}s there; narrow it if that is not meant")
            hit = [a for a in routers if a in allow.cidr]
            if hit and allow.protocol == "TCP" and gui_port in allow.ports:
                out.append(f"{key}: {allow.cidr} port {gui_port} reaches the router's web GUI and REST API on "
                           f"{hit[0]} — the tenant's pods could try the router's key; narrow the range or the ports")
    return out


# Each cross-field rule and the top-level sections it reads: a rule runs whenever its
# sections parsed, so a typo in one section never hides a mistake in another.
def derived_names(sections: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(resource name, dotted key, value) for every resource name the program derives from a
    config value, built by components/names.py as the components build them. Router objects
    are roles (the Router prefixes them all with its name); a node, tenant or person stands
    for all of its resources under one entry of its own family."""
    out: list[tuple[str, str, str]] = []
    hosts: list[tuple[str, str]] = []  # router DNS overrides
    if "cluster" in sections:
        cluster = sections["cluster"]
        hosts.append(("cluster.apiHostname", cluster.api_hostname))
        for group in ("servers", "agents"):
            for i, node in enumerate(getattr(cluster, group)):
                # the node's steps (names.node_step) and its DHCP mapping (by MAC)
                out.append((f"node {node.name}", f"cluster.{group}[{i}].name", node.name))
    if "ingress" in sections:
        hosts.append(("ingress.dashboardHost", sections["ingress"].dashboard_host))
    for i, tenant in enumerate(sections.get("tenants", ())):
        out.append((f"tenant {tenant.name}", f"tenants[{i}].name", tenant.name))  # stack.py
        hosts += [(f"tenants[{i}].hosts[{j}]", h) for j, h in enumerate(tenant.hosts)]
    # Each person's client certificate and bindings (platform/people.py).
    for i, person in enumerate(sections.get("people", ())):
        out.append((f"person {person.name}", f"people[{i}].name", person.name))
        grants = ["platops"] if person.role == "platops" else list(person.tenants)
        out += [(f"person {names.person_binding(person.name, grant)}", f"people[{i}]", f"{person.name} in {grant}")
                for grant in grants]
    out += [(names.dns_override(h), key, h) for key, h in hosts]
    if "network" in sections:
        # Each admin CIDR's rules (names.admin_rule), under the prefix they share.
        out += [(names.admin_rule_prefix(c), f"network.adminCidrs[{i}]", str(c))
                for i, c in enumerate(sections["network"].admin_cidrs)]
        # Each VLAN network's device; its other objects are named after its name
        # (names.vlan_interface, ...), which _vlan_rules keeps unique.
        out += [(names.vlan_device(v.parent, v.tag), f"network.vlans[{i}]", f"{v.parent}/{v.tag}")
                for i, v in enumerate(sections["network"].vlans)]
    if "router" in sections:
        router = sections["router"]
        # Each client: its certificate's three resources and its pfSense import (network/router.py).
        out += [(role, f"router.vpn.clients[{i}]", c) for i, c in enumerate(router.vpn.clients)
                for role in (*names.vpn_client_certificate_parts(c), names.vpn_client_import(c))]
        # Each revoked admin: its blocking client specific override (network/payloads.py).
        out += [(names.vpn_revocation(c), f"router.vpn.revokedClients[{i}]", c)
                for i, c in enumerate(router.vpn.revoked_clients)]
    return out


def _name_rules(sections: Mapping[str, Any]) -> list[str]:
    """Two different config values must never produce the same resource name (Pulumi would
    stop on a duplicate URN). Equal values are reported by the rule of their section."""
    problems: list[str] = []
    first: dict[str, tuple[str, str]] = {}
    for name, key, value in derived_names(sections):
        if name in first and first[name][1] != value:
            other_key, other = first[name]
            problems.append(
                f"{key}: {value} and {other_key} ({other}) both become the resource name "
                f"{name!r} — rename one of them (Pulumi needs each resource name once)"
            )
        first.setdefault(name, (key, value))
    return problems


# Each cross-field rule, the top-level sections it needs and those it reads when they
# parsed: a rule runs whenever its needed sections parsed, so a typo in one section never
# hides a mistake in another.
CROSS_RULES = (
    (("network",), (), _lan_rules),
    (("network",), (), _vlan_rules),
    (("network", "cluster"), (), _node_network_rules),
    (("network", "cluster"), ("router",), _cidr_rules),
    (("network", "cluster"), ("router",), _admin_rules),
    (("cluster",), (), _server_count_rules),
    (("cluster",), (), _k3s_option_rules),
    (("network", "cluster"), (), _node_rules),
    (("tenants",), (), _tenant_rules),
    (("people",), ("tenants",), _people_rules),
    (("network", "cluster", "router"), (), _router_port_rules),
    (("cluster", "ingress"), (), _ingress_replica_rules),
    (("router",), (), _vpn_port_rules),
    (("tenants", "certificates"), (), _certificate_size_rules),
)


def cross_check(sections: Mapping[str, Any]) -> list[str]:
    """Rules that span several keys, over the parsed sections. `dotted.key: message` lines."""
    problems: list[str] = []
    for needs, reads, rule in CROSS_RULES:
        if all(n in sections for n in needs):
            problems += rule(*(sections[n] for n in needs), *(sections.get(r) for r in reads))
    if "domain" in sections:
        problems += _host_rules(sections)
    problems += _name_rules(sections)
    return problems


def _limits_within_quota(key: str, tenant: Tenant) -> list[str]:
    """A LimitRange default or maximum above the namespace quota could never be scheduled."""
    q, lim = tenant.quota, tenant.limits
    pairs = [
        ("defaultRequestCpu", lim.default_request_cpu, "requestsCpu", q.requests_cpu),
        ("defaultRequestMemory", lim.default_request_memory, "requestsMemory", q.requests_memory),
        ("defaultCpu", lim.default_cpu, "limitsCpu", q.limits_cpu),
        ("defaultMemory", lim.default_memory, "limitsMemory", q.limits_memory),
        ("maxCpu", lim.max_cpu, "limitsCpu", q.limits_cpu),
        ("maxMemory", lim.max_memory, "limitsMemory", q.limits_memory),
    ]
    out = []
    for rkey, rval, lkey, lval in (("requestsCpu", q.requests_cpu, "limitsCpu", q.limits_cpu),
                                   ("requestsMemory", q.requests_memory, "limitsMemory", q.limits_memory)):
        if parse_quantity(rval) > parse_quantity(lval):
            out.append(f"{key}.quota.{rkey}: {rval} is above {key}.quota.{lkey} {lval} — a request "
                       "cannot exceed its limit; lower it or raise the limit")
    for rkey, rval, dkey, dval in (("defaultRequestCpu", lim.default_request_cpu, "defaultCpu", lim.default_cpu),
                                   ("defaultRequestMemory", lim.default_request_memory, "defaultMemory",
                                    lim.default_memory)):
        if parse_quantity(rval) > parse_quantity(dval):
            out.append(f"{key}.limits.{rkey}: {rval} is above {key}.limits.{dkey} {dval} — the API server "
                       "refuses a default request above the default limit; lower it or raise the limit")
    for lkey, lval, qkey, qval in pairs:
        if parse_quantity(lval) > parse_quantity(qval):
            out.append(f"{key}.limits.{lkey}: {lval} is above {key}.quota.{qkey} {qval} — lower it or raise the quota")
    for lkey, dval, mval in (("defaultCpu", lim.default_cpu, lim.max_cpu),
                             ("defaultMemory", lim.default_memory, lim.max_memory)):
        if parse_quantity(dval) > parse_quantity(mval):
            out.append(f"{key}.limits.{lkey}: {dval} is above the maximum {mval} — lower it or raise the max")
    return out

