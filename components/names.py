"""Resource names and type tokens: the one place each name template is spelled.

A resource's name is half its URN: changing a template here moves every resource of its
family (give the old name as an Alias). The components build their names with these
functions; the config's duplicate-name check (`config.stack.derived_names`), the offline
plan's node files and diagram, and the mocks harness read them back with the same ones.
Pure: no pulumi import.
"""

from __future__ import annotations

from collections.abc import Iterable

# --- type tokens the tools match on -----------------------------------------------------------

K3S_CLUSTER = "k3s-platform:cluster:K3sCluster"
REMOTE_COMMAND = "command:remote:Command"
PFSENSE_OBJECT = "pulumi-python:dynamic/network:PfSenseObject"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"

# Label every object of a tenant carries (the policy pack's `tenantLabel` default says the same).
TENANT_LABEL = "k3s-platform/tenant"


def child(parent: str, *parts: object) -> str:
    """A child resource's name, `<parent>-<part>-...`: how every component names what it
    registers (each part as text; a part may itself hold hyphens)."""
    return "-".join([parent, *(str(p) for p in parts)])


def slug(text: str) -> str:
    """A config value as part of a resource name: lowercase, every other character `-`
    (`10.8.0.0/24` -> `10-8-0-0-24`)."""
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


# --- router objects (a role; the Router component prefixes it with its own name) -----------------


def dns_override(fqdn: str) -> str:
    """The split-horizon DNS host override of one hostname."""
    return f"dns-{slug(fqdn)}"


ADMIN_RULE_TARGETS = ("api", "dashboard", "ssh")


def admin_rule_prefix(cidr: object) -> str:
    """What every firewall rule letting one admin CIDR in starts with."""
    return f"fw-admin-{slug(str(cidr))}"


def admin_rule(cidr: object, target: str) -> str:
    """The rule letting an admin CIDR reach one target (ADMIN_RULE_TARGETS)."""
    if target not in ADMIN_RULE_TARGETS:
        raise ValueError(f"admin rule target {target!r} — use one of {ADMIN_RULE_TARGETS}")
    return f"{admin_rule_prefix(cidr)}-{target}"


def vlan_device(parent: str, tag: int) -> str:
    """A VLAN network's 802.1Q device (named before VLANs were networks: kept for its URN)."""
    return f"vlan-{parent}-{tag}"


def vlan_interface(network: str) -> str:
    """A VLAN network's interface assignment."""
    return f"iface-{network}"


def vlan_network_of_interface(role: str) -> str | None:
    """The VLAN network an interface assignment's role names, or None for another role."""
    return role.removeprefix("iface-") if role.startswith("iface-") else None


def vlan_dhcp_server(network: str) -> str:
    """A VLAN network's DHCP server."""
    return f"dhcpd-{network}"


def vlan_rule_prefix(network: str) -> str:
    """What every firewall rule of one VLAN network starts with."""
    return f"fw-vlan-{network}"


def dhcp_mapping(mac: str) -> str:
    """A node's DHCP static mapping, named by its MAC (payloads.static_mapping_role says why)."""
    return f"dhcp-{slug(mac)}"


def legacy_dhcp_mapping(node: str) -> str:
    """The name a node's mapping had before mappings were keyed by MAC (v0.1.0): an alias."""
    return f"dhcp-{node}"


def vpn_client(client: str) -> str:
    """What one VPN client's key, CSR and certificate are named after (`<this>-key`, ...)."""
    return f"vpn-client-{client}"


CERTIFICATE_PARTS = ("key", "csr", "cert")  # pki.signed_cert's suffixes


def vpn_client_certificate_parts(client: str) -> list[str]:
    """The three resources of one client's certificate."""
    return [f"{vpn_client(client)}-{part}" for part in CERTIFICATE_PARTS]


def vpn_client_import(client: str) -> str:
    """One client's certificate as imported into pfSense."""
    return f"{vpn_client(client)}-import"


def vpn_revocation(client: str) -> str:
    """The client specific override that blocks one revoked client."""
    return f"vpn-revoked-{client}"


def person_binding(person: str, grant: str) -> str:
    """One person's binding to `platops` or to a tenant (the People component prefixes it)."""
    return f"{person}-{grant}"


# --- k3s node steps ----------------------------------------------------------------------------

# Every per-node step of a cluster (cluster/order.py says in which order they run).
NODE_STEPS = ("prepare", "config", "cas", "secret-files", "install", "member", "labels", "upgrade")


# Resources of the cluster as a whole that the tools recognise (`<cluster>-<this>`).
CAS_READ = "cas-read"  # reads the CAs k3s made (certificateAuthorities: adopt)
JOIN_TOKEN = "join-token"  # reads the token servers and agents join with
TOKEN_ROTATE = "token-rotate"  # moves the first server to the newest cluster token
PROVIDER = "provider"  # the Kubernetes provider every object of the cluster uses


def cluster_token(cluster: str, generation: int) -> str:
    """Token 1 keeps the name it always had; each later `tokenGeneration` gets its own."""
    return f"{cluster}-token" if generation == 1 else f"{cluster}-token-{generation}"


def cluster_resource(cluster: str, what: str) -> str:
    return f"{cluster}-{what}"


def node_step(cluster: str, node: str, step: str) -> str:
    """`<cluster>-<node>-<step>`."""
    if step not in NODE_STEPS:
        raise ValueError(f"node step {step!r} — use one of {NODE_STEPS}")
    return f"{cluster}-{node}-{step}"


def parse_node_step(name: str, clusters: Iterable[str]) -> tuple[str, str, str] | None:
    """(cluster, node, step) of a node step's resource name, or None when it is none. The
    longest cluster name that prefixes it wins (a cluster may be named like another's node)."""
    for cluster in sorted(clusters, key=len, reverse=True):
        if not name.startswith(f"{cluster}-"):
            continue
        rest = name[len(cluster) + 1:]
        for step in sorted(NODE_STEPS, key=len, reverse=True):
            if rest.endswith(f"-{step}") and len(rest) > len(step) + 1:
                return cluster, rest[: -len(step) - 1], step
    return None

