"""The pfSense object kinds the Router manages, as plain data (no I/O).

For each kind: the pfrest v2 singular and plural endpoints, the fields that form its
stable natural key, and the subsystem whose "apply" makes it live. The driver finds objects
by natural key — never by pfSense's array `id`, which renumbers after a delete.

# Ref: https://pfrest.org/api-docs/ (endpoint list) and the model classes in
#      github.com/pfrest/pfSense-pkg-RESTAPI pfSense-pkg-RESTAPI/files/usr/local/pkg/RESTAPI/Models/
#      Every path below was checked against its Endpoints/<Name>Endpoint.inc class (`$url`,
#      `request_method_options`): singular endpoints take GET/POST/PATCH/DELETE, plural ones
#      GET (limit defaults to 0 = every object, Core/Endpoint.inc), apply ones GET/POST.
#      docs/router.md lists what was verified and at which upstream commit.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Payload strings of this form are replaced by the `refid` of another object (found by its
# natural key) at deploy time: pfSense assigns refids, so a pure renderer cannot know them.
REFID_PREFIX = "$refid:"

# Every object the program makes carries this at the start of its tag field (see `Kind.owner`):
# it is how the driver tells its own objects from hand-made ones with the same natural key.
TAG = "k3s-platform"
# HAProxy backends have no description field; their backend pass-thru text (a config comment
# for HAProxy) carries the tag instead.
BACKEND_MARK = f"# {TAG}: managed backend"


@dataclass(frozen=True)
class Kind:
    name: str
    path: str  # singular endpoint: GET/POST/PATCH/DELETE one object
    plural: str  # plural endpoint: GET the list
    key_fields: tuple[str, ...]
    subsystem: str | None  # which apply makes it live; None = pfrest applies on write
    parent_id: bool = False  # nested model: requests carry `parent_id`
    secret: bool = False  # payload carries private keys
    immutable: tuple[str, ...] = ()  # `editable: false` fields: sent on POST, never on PATCH
    # pfSense names the object itself (an interface's `optN`): the resource keeps the live
    # object's `id` as its output `assignedId`, which the objects referring to it take.
    assigned_id: bool = False
    # The object's `id` is a pfSense interface id (`lan`, `opt2`: id_type string), not a
    # position in a config.xml array.
    interface_id: bool = False
    # How a live object shows it is ours (driver.PfRestDriver.owned):
    #   "<field>"      that field starts with TAG (descriptions);
    #   "adopt"        any object with the key is taken over (DHCP static mappings, docs/router.md §4);
    #   "vlan_device"  an interface assignment of a VLAN device whose description carries TAG;
    #   "interface"    a DHCP server on an interface assignment that is ours;
    #   "backend"      BACKEND_MARK in `advanced_backend`, or (stacks made before the mark) the
    #                  backend of one of our tagged frontends.
    owner: str = "descr"


# Ref: Models/InterfaceVLAN.inc (unique together: if, tag; always_apply; `if` editable: false)
VLAN = Kind("vlan", "/api/v2/interface/vlan", "/api/v2/interface/vlans", ("if", "tag"), None, immutable=("if",))
# Ref: Models/NetworkInterface.inc (config_path interfaces; id_type string, the id is the
# interface id pfSense picks in get_next_id(): `lan`, then the first free `optN`; `if` unique
# with the real ports (VLAN devices `<parent>.<tag>` included) as choices; `descr` required,
# unique, FilterNameValidator (A-Z a-z 0-9 _, not reserved, not numeric, no `pkg_`, not an
# interface id or alias name); typev4 `static` needs ipaddr + subnet; subsystem `interfaces`:
# writes are pending until /api/v2/interface/apply (Models/InterfaceApply.inc)).
INTERFACE = Kind("interface", "/api/v2/interface", "/api/v2/interfaces", ("if",), "interfaces", assigned_id=True,
                 interface_id=True, owner="vlan_device")
# Ref: Models/DHCPServer.inc (config_path dhcpd, id = the interface id; `interface` required,
# representation only, read back as the id; `enable` refused unless the interface has a static
# IPv4; range_from/range_to inside the interface's subnet; dnsserver/ntpserver lists; subsystem
# dhcpd, applied by /api/v2/services/dhcp_server/apply). Endpoints/ServicesDHCPServerEndpoint.inc
# GET/POST/PATCH/DELETE, ServicesDHCPServersEndpoint.inc GET/PUT.
DHCP_SERVER = Kind(
    "dhcp_server", "/api/v2/services/dhcp_server", "/api/v2/services/dhcp_servers", ("interface",), "dhcp",
    interface_id=True, owner="interface",
)
# Ref: Models/FirewallAlias.inc (name unique, `editable: false`, FilterNameValidator; type
# host|network|port; address many, ' '-delimited; subsystem aliases, applied with the filter by
# /api/v2/firewall/apply); Endpoints/FirewallAliasEndpoint.inc GET/POST/PATCH/DELETE.
FIREWALL_ALIAS = Kind(
    "firewall_alias", "/api/v2/firewall/alias", "/api/v2/firewall/aliases", ("name",), "firewall",
    immutable=("name",),
)
# Ref: Models/DHCPServerStaticMapping.inc (parent_model_class DHCPServer, whose id is the
# interface, e.g. "lan"; `mac` unique; subsystem dhcpd — since pfrest v2.1.0 DHCP writes are
# no longer applied on write, so /api/v2/services/dhcp_server/apply is required)
STATIC_MAPPING = Kind(
    "static_mapping",
    "/api/v2/services/dhcp_server/static_mapping",
    "/api/v2/services/dhcp_server/static_mappings",
    ("mac",),
    "dhcp",
    parent_id=True,
    owner="adopt",
)
# Ref: Models/DNSResolverHostOverride.inc (unique together: host, domain; subsystem unbound;
# `ip` and `aliases` are lists)
HOST_OVERRIDE = Kind(
    "host_override",
    "/api/v2/services/dns_resolver/host_override",
    "/api/v2/services/dns_resolver/host_overrides",
    ("host", "domain"),
    "dns",
)
# Ref: Models/PortForward.inc (subsystem natconf, applied by /api/v2/firewall/apply)
PORT_FORWARD = Kind(
    "port_forward",
    "/api/v2/firewall/nat/port_forward",
    "/api/v2/firewall/nat/port_forwards",
    ("descr",),
    "nat",
)
# Ref: Models/FirewallRule.inc (`interface` is a list of one unless floating)
FIREWALL_RULE = Kind(
    "firewall_rule", "/api/v2/firewall/rule", "/api/v2/firewall/rules", ("descr",), "firewall"
)
# Ref: Models/HAProxyBackend.inc (`servers` nested), Models/HAProxyBackendServer.inc (not
# always_apply: /api/v2/services/haproxy/apply, whose `applied` = no haproxy.conf.dirty)
HAPROXY_BACKEND = Kind(
    "haproxy_backend",
    "/api/v2/services/haproxy/backend",
    "/api/v2/services/haproxy/backends",
    ("name",),
    "haproxy",
    owner="backend",
)
# Ref: Models/HAProxyFrontend.inc (`a_extaddr` nested), Models/HAProxyFrontendAddress.inc
HAPROXY_FRONTEND = Kind(
    "haproxy_frontend",
    "/api/v2/services/haproxy/frontend",
    "/api/v2/services/haproxy/frontends",
    ("name",),
    "haproxy",
)
# Ref: Models/CertificateAuthority.inc (crt required, prv optional; always_apply = trust store)
CERTIFICATE_AUTHORITY = Kind(
    "certificate_authority",
    "/api/v2/system/certificate_authority",
    "/api/v2/system/certificate_authorities",
    ("descr",),
    "openvpn",
)
# Ref: Models/Certificate.inc (crt and prv required; prv `sensitive`; no subsystem)
CERTIFICATE = Kind(
    "certificate",
    "/api/v2/system/certificate",
    "/api/v2/system/certificates",
    ("descr",),
    "openvpn",
    secret=True,
)
# Ref: Models/OpenVPNServer.inc (always_apply: the server is (re)started on write)
OPENVPN_SERVER = Kind(
    "openvpn_server",
    "/api/v2/vpn/openvpn/server",
    "/api/v2/vpn/openvpn/servers",
    ("description",),
    "openvpn",
    secret=True,
    owner="description",
)
# Ref: Models/OpenVPNClientSpecificOverride.inc (config_path openvpn/openvpn-csc; `common_name`
# required; always_apply: apply() rewrites the override's csc file for each OpenVPN server);
# Endpoints/VPNOpenVPNCSOEndpoint.inc (GET/POST/PATCH/DELETE) and VPNOpenVPNCSOsEndpoint.inc
# (GET/DELETE, many). One override per common name: pfSense writes it to
# <server>/csc/<common_name>, so a second one for the same name would overwrite the first.
OPENVPN_CLIENT_OVERRIDE = Kind(
    "openvpn_client_override",
    "/api/v2/vpn/openvpn/cso",
    "/api/v2/vpn/openvpn/csos",
    ("common_name",),
    "openvpn",
    owner="description",
)

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        VLAN,
        INTERFACE,
        DHCP_SERVER,
        FIREWALL_ALIAS,
        STATIC_MAPPING,
        HOST_OVERRIDE,
        PORT_FORWARD,
        FIREWALL_RULE,
        HAPROXY_BACKEND,
        HAPROXY_FRONTEND,
        CERTIFICATE_AUTHORITY,
        CERTIFICATE,
        OPENVPN_SERVER,
        OPENVPN_CLIENT_OVERRIDE,
    )
}

# Apply endpoints; GET returns {"applied": bool}, POST starts the apply.
# NAT has no endpoint of its own: port forwards mark the `natconf` subsystem dirty and
# /api/v2/firewall/apply applies aliases, natconf, filter and shaper together
# (Ref: Models/FirewallApply.inc FIREWALL_SUBSYSTEMS).
# OpenVPN objects are applied by pfrest on write (always_apply), so its "apply" only
# verifies that every object is present (None here).
APPLY_PATHS: dict[str, str | None] = {
    "interfaces": "/api/v2/interface/apply",  # Ref: Models/InterfaceApply.inc
    "firewall": "/api/v2/firewall/apply",  # Ref: Models/FirewallApply.inc
    "nat": "/api/v2/firewall/apply",
    "dhcp": "/api/v2/services/dhcp_server/apply",  # Ref: Models/DHCPServerApply.inc
    "dns": "/api/v2/services/dns_resolver/apply",  # Ref: Models/DNSResolverApply.inc
    "haproxy": "/api/v2/services/haproxy/apply",  # Ref: Models/HAProxyApply.inc
    "openvpn": None,
}

# Service settings a subsystem needs on before its apply can make anything live: pfrest's
# HAProxy settings default to `enable: false`, and an apply of a disabled HAProxy only clears
# its dirty marker — it would report success with nothing listening.
# Ref: Models/HAProxySettings.inc (singleton, `enable` BooleanField default false; no
#      always_apply, so the subsystem's apply makes it live).
SERVICE_SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "haproxy": ("/api/v2/services/haproxy/settings", {"enable": True}),
}

_CASE_FOLDED = {"mac", "host", "domain"}


def get_kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown pfSense object kind {name!r} — use one of {sorted(KINDS)}") from None


def natural_key(kind: Kind, obj: Mapping[str, Any]) -> str:
    """The stable identity of an object: its key fields, case-folded where pfSense is."""
    parts = []
    for field in kind.key_fields:
        value = obj.get(field)
        if value is None:
            raise ValueError(f"{kind.name} object has no {field!r} — it is part of the natural key")
        text = str(value)
        parts.append(text.lower() if field in _CASE_FOLDED else text)
    prefix = f"{obj.get('parent_id')}/" if kind.parent_id and obj.get("parent_id") else ""
    return f"{kind.name}:{prefix}{'|'.join(parts)}"


def tagged(value: Any) -> bool:
    """Whether a live tag field (a description) says the object is ours."""
    return isinstance(value, str) and value.startswith(TAG)


def backend_marked(value: Any) -> bool:
    """Whether a live `advanced_backend` carries BACKEND_MARK: as written, or as the base64
    pfSense stores it in config.xml (in case a release shows the stored form)."""
    if not isinstance(value, str):
        return False
    if value.startswith(BACKEND_MARK):
        return True
    try:
        return base64.b64decode(value, validate=True).decode().startswith(BACKEND_MARK)
    except (ValueError, UnicodeDecodeError):
        return False


def owned_interface(interface: Mapping[str, Any], vlans: list[dict[str, Any]]) -> bool:
    """Whether a live interface assignment is ours: it assigns a VLAN device (`if` =
    `<parent>.<tag>`) whose description carries TAG. Interface descriptions cannot carry it."""
    device = str(interface.get("if", ""))
    return any(f"{v.get('if')}.{v.get('tag')}" == device and tagged(v.get("descr")) for v in vlans)


def normalize(value: Any) -> Any:
    """Canonical form of a desired payload for diffing: None dropped, keys sorted, MACs and
    hostnames lower-cased, numbers that pfSense stores as strings left as rendered."""
    if isinstance(value, Mapping):
        out = {}
        for k in sorted(value):
            v = value[k]
            if v is None:
                continue
            v = normalize(v)
            if k in _CASE_FOLDED and isinstance(v, str):
                v = v.lower()
            out[k] = v
        return out
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    return value


def canonical_json(value: Any) -> str:
    return json.dumps(normalize(value), sort_keys=True, separators=(",", ":"))


def payload_hash(*payloads: Any) -> str:
    """Hash of desired payloads: an apply re-runs when the hash of its objects changes."""
    digest = hashlib.sha256()
    for p in payloads:
        digest.update(canonical_json(p).encode())
        digest.update(b"\n")
    return digest.hexdigest()


# Fields whose live value cannot be compared with the desired one: pfSense masks or
# re-encodes private keys (`sensitive` Base64Fields) and assigns refids itself.
_UNREADABLE = {"prv", "tls"}


def _same_scalar(field: str | None, desired: Any, live: Any) -> bool:
    if isinstance(desired, bool) or isinstance(live, bool):
        return bool(desired) == bool(live) if live in (True, False, "", None, "yes", "enabled") else False
    if isinstance(desired, str) and isinstance(live, str):
        if field in _CASE_FOLDED:
            return desired.lower() == live.lower()
        return desired.strip() == live.strip()  # PEM text may come back without its final newline
    if isinstance(desired, (int, float, str)) and isinstance(live, (int, float, str)):
        return str(desired) == str(live)  # pfSense stores numbers as strings: 80 == "80"
    return desired == live


def project_live(desired: Any, live: Any, field: str | None = None) -> Any:
    """The live object seen through the desired payload, for refresh (`read`) and drift.

    Only fields we set are looked at; where live and desired agree (after the light
    normalization pfSense forces: numbers as strings, case-folded MACs, PEM newlines) the
    desired value is kept so an untouched object shows no diff; where they differ the live
    value is returned. Fields pfSense cannot show back (private keys, `$refid:` references,
    fields absent from the live object) keep their desired value."""
    if field in _UNREADABLE or (isinstance(desired, str) and desired.startswith(REFID_PREFIX)):
        return desired
    if isinstance(desired, Mapping):
        if not isinstance(live, Mapping):
            return live if live is not None else desired
        return {k: (project_live(v, live[k], k) if k in live else v) for k, v in desired.items()}
    if isinstance(desired, (list, tuple)):
        if not isinstance(live, (list, tuple)) or len(live) != len(desired):
            return live if live is not None else desired
        return [project_live(d, lv, field) for d, lv in zip(desired, live)]
    return desired if _same_scalar(field, desired, live) else live


def api_privileges() -> list[tuple[str, tuple[str, ...]]]:
    """Every (endpoint, methods) the driver calls, from the tables above: what the router's
    API key must be allowed (docs/router.md lists exactly this; a test keeps them equal)."""
    calls: dict[str, set[str]] = {}
    for kind in KINDS.values():
        calls.setdefault(kind.path, set()).update({"GET", "POST", "PATCH", "DELETE"})
        calls.setdefault(kind.plural, set()).add("GET")
    for path in filter(None, APPLY_PATHS.values()):
        calls.setdefault(path, set()).update({"GET", "POST"})
    for path, _ in SERVICE_SETTINGS.values():
        calls.setdefault(path, set()).update({"GET", "PATCH"})
    order = ("GET", "POST", "PATCH", "DELETE")
    return [(path, tuple(m for m in order if m in methods)) for path, methods in sorted(calls.items())]


def privilege_name(path: str, method: str) -> str:
    """pfrest's privilege for one endpoint and method: `api-v2-firewall-rule-post`."""
    return path.strip("/").replace("/", "-") + "-" + method.lower()
