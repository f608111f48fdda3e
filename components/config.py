"""Typed, validated stack configuration — the only module that reads `pulumi.Config`.

`parse_stack_config(raw)` is pure: a mapping of config keys (without the project prefix) to
plain values in, a frozen `StackConfig` out, or a `ConfigError` that lists every problem at
once as `dotted.key: what is wrong — how to fix`. `read_stack_config()` is the thin edge that
collects the raw values (and the secrets, as secret Outputs) from the Pulumi runtime.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components.network.payloads import _slug as router_slug  # the router's own naming
from components.network.settings import RouterSettings
from components.quantity import parse_quantity

# HAProxy's frontends on the router's LAN address in HA stacks: ingress and the API.
HAPROXY_PORTS = (80, 443, 6443)

PROJECT = "k3s-platform"
# Config namespaces that are not this project's but legitimately appear in a stack file:
# the engine's own (`pulumi:`) and those of the providers the program uses.
PROVIDER_NAMESPACES = frozenset({"pulumi", "kubernetes", "command", "tls", "random"})

# Secret keys: read with require_secret, never part of the typed model.
SECRET_KEYS = ("sshPrivateKey", "pfsenseApiKey", "dashboardPassword")
# Keys whose raw value is a plain string (everything else is structured YAML/JSON).
STRING_KEYS = ("domain",)


class ConfigError(Exception):
    """Every problem found in the stack config, one `dotted.key: message` line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))

    def report(self, stack: str | None = None) -> str:
        where = f"Pulumi.{stack}.yaml" if stack else "the stack config"
        lines = [f"invalid configuration in {where} ({len(self.problems)} problem(s)):"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


# --- reusable field types -------------------------------------------------------------

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_MAC = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
_K3S_VERSION = re.compile(r"^v1\.(\d+)\.(\d+)\+k3s(\d+)$")
# Kubernetes minors this platform supports: each has a k3s release line, a bundled OpenAPI
# schema in the pinned kubernetes-validate (the plan validates against it) and Pod Security
# rules the policy pack knows. Widen it only after checking all three.
SUPPORTED_KUBERNETES_MINORS = (32, 33, 34, 35)
# POSIX portable user name (useradd's default rule): it reaches the node scripts.
_POSIX_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]+$")
# Groups as an authenticator reports them (OIDC prefixes like `oidc:` allowed).
_GROUP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:/-]{0,252}$")
# Kubernetes label keys/values (also taint keys/values).
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_PREFIX = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# Label namespaces the kubelet refuses in --node-labels unless listed here.
# Ref: https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#noderestriction
_KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")
_KUBELET_LABELS = frozenset({
    "kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os",
    "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
    "failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
    "topology.kubernetes.io/region", "topology.kubernetes.io/zone",
})


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS label — use lowercase letters, digits and '-', at most 63 characters"
        )
    return value


def _hostname(value: str) -> str:
    if not _HOSTNAME.match(value):
        raise ValueError(f"{value!r} is not a fully qualified hostname — write it like app.home.example.org")
    return value


def _mac(value: str) -> str:
    normalized = value.strip().lower().replace("-", ":")
    if not _MAC.match(normalized):
        raise ValueError(f"{value!r} is not a MAC address — write six hex pairs, e.g. aa:bb:cc:00:11:22")
    return normalized


def _quantity(value: str | int) -> str:
    text = str(value)
    try:
        amount = parse_quantity(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a Kubernetes quantity — write e.g. 500m, 2, 512Mi or 4Gi"
        ) from None
    if amount <= 0:
        raise ValueError(f"{text!r} must be positive — give a quantity above zero")
    return text


def _posix_user(value: str) -> str:
    if not _POSIX_USER.match(value):
        raise ValueError(
            f"{value!r} is not a POSIX user name — use lowercase letters, digits, '_' and '-', "
            "starting with a letter or '_', at most 32 characters"
        )
    return value


_WEB_USER = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


def _web_user(value: str) -> str:
    if not _WEB_USER.match(value):
        raise ValueError(f"{value!r} is not a user name — use letters, digits, '.', '_', '@' or '-'")
    return value


def _email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not (at and _EMAIL.match(value) and _HOSTNAME.match(domain.lower())):
        raise ValueError(f"{value!r} is not an e-mail address — write it like ops@example.org")
    return value


def _group(value: str) -> str:
    if value.startswith("system:"):
        raise ValueError(
            f"{value!r} is a Kubernetes system group (every authenticated user, every service "
            "account, the nodes...) — name a group your identity provider gives only to the team"
        )
    if not _GROUP.match(value):
        raise ValueError(
            f"{value!r} is not a group name — use letters, digits and '.', '_', '@', ':', '/', '-'"
        )
    return value


def label_key_problem(key: str) -> str | None:
    """Why Kubernetes (or the kubelet, for node labels) refuses `key`, or None."""
    prefix, slash, name = key.rpartition("/")
    if not _LABEL_NAME.match(name) or (slash and not _LABEL_PREFIX.match(prefix)):
        return (f"{key!r} is not a label key — write [prefix/]name: name up to 63 letters, digits, "
                "'-', '_' or '.', prefix a DNS subdomain")
    return None


def label_value_problem(value: str) -> str | None:
    if value and not _LABEL_NAME.match(value):
        return (f"{value!r} is not a label value — up to 63 letters, digits, '-', '_' or '.', "
                "starting and ending with a letter or digit")
    return None


def _node_labels(labels: dict[str, str]) -> dict[str, str]:
    for key, value in labels.items():
        problem = label_key_problem(key) or label_value_problem(value)
        if problem:
            raise ValueError(problem)
        namespace = key.rpartition("/")[0]
        if (namespace.endswith(("kubernetes.io", "k8s.io")) and key not in _KUBELET_LABELS
                and namespace not in _KUBELET_LABEL_NAMESPACES
                and not namespace.endswith("node-restriction.kubernetes.io")):
            raise ValueError(
                f"{key!r} is in a Kubernetes label namespace the kubelet refuses to set on its "
                "own node — use your own prefix, or node-restriction.kubernetes.io/"
            )
    return labels


def _taint(value: str) -> str:
    rest, colon, effect = value.rpartition(":")
    key, eq, taint_value = rest.partition("=")
    if not colon or effect not in TAINT_EFFECTS:
        raise ValueError(
            f"taint {value!r} has no valid effect — write key=value:Effect with Effect one of "
            f"{', '.join(TAINT_EFFECTS)}"
        )
    problem = label_key_problem(key) or (label_value_problem(taint_value) if eq else None)
    if problem:
        raise ValueError(f"taint {value!r}: {problem}")
    return value


# Cron as k3s reads etcd-snapshot-schedule-cron (five fields, or a @descriptor).
_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31),
                ("month", 1, 12), ("day of week", 0, 7))
_CRON_NAMES = {
    3: {m: i + 1 for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))},
    4: {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))},
}
_CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def cron_problem(text: str) -> str | None:
    """Why `text` is not a five-field cron schedule, or None."""
    if text.strip() in _CRON_DESCRIPTORS:
        return None
    fields = text.split()
    if len(fields) != 5:
        return f"{text!r} has {len(fields)} fields — a cron schedule has five (minute hour day month weekday)"
    for index, (field, (what, low, high)) in enumerate(zip(fields, _CRON_FIELDS)):
        names = _CRON_NAMES.get(index, {})

        def number(part: str) -> int:
            value = names.get(part.lower())
            if value is None:
                if not part.isdigit():
                    raise ValueError
                value = int(part)
            if not low <= value <= high:
                raise ValueError
            return value

        for item in field.split(","):
            base, slash, step = item.partition("/")
            try:
                if slash and not (step.isdigit() and int(step) > 0):
                    raise ValueError
                if base != "*":
                    first, dash, last = base.partition("-")
                    if number(first) > (number(last) if dash else high):
                        raise ValueError
            except ValueError:
                return f"{what} field {field!r} of {text!r} is not valid — use *, numbers {low}-{high}, ranges a-b, lists a,b and steps */n"
    return None


def _cron(value: str) -> str:
    problem = cron_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# Image references: [registry[:port]/]path[:tag][@algorithm:digest].
# Ref: https://github.com/distribution/reference (grammar in reference.go)
_IMAGE = re.compile(
    r"^(?:(?P<registry>(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)/)?"
    r"(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}))?$"
)


def image_problem(image: str) -> str | None:
    """Why `image` is not a pinned image reference, or None."""
    match = _IMAGE.match(image)
    if not match:
        return (f"{image!r} is not an image reference — write [registry/]name:tag or "
                "name@sha256:<64 hex digits>, e.g. traefik/whoami:v1.11.0")
    digest = match.group("digest")
    if digest and digest.startswith("sha256:") and len(digest) != len("sha256:") + 64:
        return f"{image!r} has a malformed sha256 digest — it needs exactly 64 hex digits"
    if not digest and match.group("tag") in (None, "latest"):
        return f"{image!r} does not pin a version — add a tag other than latest, or a digest"
    return None


def _image(value: str) -> str:
    problem = image_problem(value)
    if problem:
        raise ValueError(problem)
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
Hostname = Annotated[str, AfterValidator(_hostname)]
MacAddress = Annotated[str, AfterValidator(_mac)]
Quantity = Annotated[str, AfterValidator(_quantity)]
Port = Annotated[int, Field(ge=1, le=65535)]
# `ssh-ed25519 AAAA...` (an optional trailing comment is allowed, as in known_hosts).
SshHostKey = Annotated[str, Field(pattern=r"^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}( [^\n]*)?$")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
AbsolutePath = Annotated[str, Field(pattern=r"^/[A-Za-z0-9._/+-]+$")]
PosixUser = Annotated[str, AfterValidator(_posix_user)]
Email = Annotated[str, AfterValidator(_email)]
WebUser = Annotated[str, AfterValidator(_web_user)]
GroupName = Annotated[str, AfterValidator(_group)]
Taint = Annotated[str, AfterValidator(_taint)]
NodeLabels = Annotated[dict[str, str], AfterValidator(_node_labels)]
CronSchedule = Annotated[str, AfterValidator(_cron)]
ImageRef = Annotated[str, AfterValidator(_image)]


class Model(BaseModel):
    """Frozen, strict about unknown keys, camelCase in YAML, snake_case in Python."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


# --- network ----------------------------------------------------------------------------


class DhcpRange(Model):
    start: IPv4Address
    end: IPv4Address

    @model_validator(mode="after")
    def _ordered(self) -> DhcpRange:
        if self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end} — swap them")
        return self

    def __contains__(self, ip: IPv4Address) -> bool:
        return self.start <= ip <= self.end


class Lan(Model):
    """The LAN the nodes live on. `gateway` is the router's LAN address."""

    cidr: IPv4Network
    gateway: IPv4Address
    dhcp_range: DhcpRange


class Network(Model):
    """`adminCidrs`: where admins come from (LAN/VLAN/VPN); they may reach 6443 and the dashboard.

    `allowPublicAdmin` (default false): accept an admin range wider than the LAN, VLANs and
    VPN tunnel (e.g. 0.0.0.0/0), which opens the API and the dashboard to all of it.
    """

    lan: Lan
    admin_cidrs: tuple[IPv4Network, ...] = Field(min_length=1)
    allow_public_admin: bool = Field(
        default=False,
        description="Accept admin ranges wider than the LAN, VLANs and VPN tunnel (exposes 6443 and the dashboard).")


# --- cluster ----------------------------------------------------------------------------


class Node(Model):
    """One k3s host. `labels`/`taints` go to its k3s config (default: none). `hostKey`: the
    host's SSH public key as in known_hosts without the host name (`ssh-ed25519 AAAA...`);
    when set, the program refuses any other host at that address (default: not pinned)."""

    name: DnsLabel
    ip: IPv4Address
    mac: MacAddress
    labels: NodeLabels = {}
    taints: tuple[Taint, ...] = ()
    host_key: SshHostKey | None = None


class Ssh(Model):
    """How the program reaches the nodes. The key is the secret `sshPrivateKey`."""

    user: PosixUser
    port: Port = 22


class Installer(Model):
    """Where k3s comes from. `release` (default): each host fetches the installer of the pinned
    release tag, which downloads the binary; `sha256` pins the installer script. `airgap`:
    k3s's air-gap install — the binary at /usr/local/bin/k3s and the installer at
    `scriptPath` are put on each host beforehand; nothing is downloaded."""

    source: Literal["release", "airgap"] = "release"
    sha256: Sha256 | None = None
    script_path: AbsolutePath = "/var/lib/k3s-platform/install.sh"


class EtcdSnapshots(Model):
    """k3s embedded-etcd snapshots (HA only). Default: every 6 hours, keep 12."""

    enabled: bool = True
    schedule: CronSchedule = "0 */6 * * *"
    retention: int = Field(default=12, ge=1)


class Cluster(Model):
    k3s_version: str = Field(
        alias="k3sVersion",
        description="Pinned k3s release, e.g. v1.34.2+k3s1; its Kubernetes minor must be one of "
                    + ", ".join(f"v1.{m}" for m in SUPPORTED_KUBERNETES_MINORS) + ".")
    api_hostname: Hostname
    pod_cidr: IPv4Network = IPv4Network("10.42.0.0/16")
    service_cidr: IPv4Network = IPv4Network("10.43.0.0/16")
    ssh: Ssh
    servers: tuple[Node, ...]
    agents: tuple[Node, ...] = ()
    secrets_encryption: bool = True
    etcd_snapshots: EtcdSnapshots = EtcdSnapshots()
    installer: Installer = Installer()

    @field_validator("k3s_version")
    @classmethod
    def _version_format(cls, version: str) -> str:
        match = _K3S_VERSION.match(version)
        if not match:
            raise ValueError(f"{version!r} is not a pinned k3s release — write e.g. v1.34.2+k3s1")
        if int(match.group(1)) not in SUPPORTED_KUBERNETES_MINORS:
            known = ", ".join(f"v1.{m}" for m in SUPPORTED_KUBERNETES_MINORS)
            raise ValueError(
                f"{version!r} is not of a supported Kubernetes minor — pick a k3s release of {known}"
            )
        return version

    @property
    def kubernetes_minor(self) -> str:
        """`v1.34` for k3s `v1.34.2+k3s1`: the Pod Security version and schema version."""
        match = _K3S_VERSION.match(self.k3s_version)
        return f"v1.{match.group(1)}" if match else "latest"

    @property
    def ha(self) -> bool:
        """Embedded etcd with several servers behind the router's HAProxy."""
        return len(self.servers) > 1

    @property
    def nodes(self) -> tuple[Node, ...]:
        return self.servers + self.agents


# --- system -----------------------------------------------------------------------------


class Ingress(Model):
    """Traefik. The dashboard user's password is the secret `dashboardPassword`."""

    dashboard_host: Hostname
    replicas: int = Field(default=1, ge=1, le=10)
    dashboard_user: WebUser = "admin"


class Certificates(Model):
    """`ca`: a private CA made by the program (dev). `acme`: Let's Encrypt HTTP-01."""

    issuer: Literal["ca", "acme"]
    acme_server: Literal["staging", "production"] = "staging"
    email: Email | None = None

    @model_validator(mode="after")
    def _acme_needs_email(self) -> Certificates:
        if self.issuer == "acme" and not self.email:
            raise ValueError("issuer acme needs an account e-mail — set certificates.email")
        return self


# --- platform ---------------------------------------------------------------------------


class Quota(Model):
    """ResourceQuota hard limits. Defaults suit a small app."""

    requests_cpu: Quantity = "2"
    requests_memory: Quantity = "4Gi"
    limits_cpu: Quantity = "4"
    limits_memory: Quantity = "8Gi"
    pods: int = Field(default=20, ge=1)
    persistent_volume_claims: int = Field(default=5, ge=0)
    requests_storage: Quantity = "20Gi"


class Limits(Model):
    """LimitRange per container: defaults and maxima."""

    default_cpu: Quantity = "500m"
    default_memory: Quantity = "512Mi"
    default_request_cpu: Quantity = "100m"
    default_request_memory: Quantity = "128Mi"
    max_cpu: Quantity = "2"
    max_memory: Quantity = "2Gi"


class EgressAllow(Model):
    cidr: IPv4Network
    ports: tuple[Port, ...] = Field(min_length=1)
    protocol: Literal["TCP", "UDP"] = "TCP"


class SampleApp(Model):
    """The whoami-style demo workload that proves the path end to end."""

    image: ImageRef = "traefik/whoami:v1.11.0"
    port: Port = 8080
    replicas: int = Field(default=1, ge=1)


class Tenant(Model):
    name: DnsLabel
    hosts: tuple[Hostname, ...] = Field(min_length=1)
    group: GroupName | None = None
    app_ports: tuple[Port, ...] = (8080,)
    quota: Quota = Quota()
    limits: Limits = Limits()
    egress: tuple[EgressAllow, ...] = ()
    sample_app: SampleApp | None = None

    @property
    def appops_group(self) -> str:
        """The AppOps group of this tenant (default `<name>-appops`)."""
        return self.group or f"{self.name}-appops"


class PlatOps(Model):
    """The PlatOps group, bound cluster-wide (default `platops`)."""

    group: GroupName = "platops"


class Charts(Model):
    """Where the Helm charts come from. `repository`: one chart repository that serves both
    pinned charts (an air-gapped mirror, e.g. `http://charts.lan:8879`); default: each chart's
    official repository."""

    repository: HttpUrl | None = None


class StackConfig(Model):
    domain: Hostname
    network: Network
    cluster: Cluster
    ingress: Ingress
    certificates: Certificates
    platops: PlatOps = PlatOps()
    tenants: tuple[Tenant, ...] = ()
    router: RouterSettings
    charts: Charts = Charts()

    @property
    def ingress_hosts(self) -> tuple[str, ...]:
        """Every hostname routed by Traefik: tenant hosts then the dashboard."""
        hosts = [h for t in self.tenants for h in t.hosts]
        return tuple(dict.fromkeys(hosts + [self.ingress.dashboard_host]))


# --- cross-field checks (run once every field parsed) ----------------------------------


def _under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _lan_rules(network: Network) -> list[str]:
    lan, problems = network.lan, []
    if lan.gateway not in lan.cidr:
        problems.append(f"network.lan.gateway: {lan.gateway} is outside {lan.cidr} — pick an address in the LAN")
    for end in ("start", "end"):
        ip = getattr(lan.dhcp_range, end)
        if ip not in lan.cidr:
            problems.append(f"network.lan.dhcpRange.{end}: {ip} is outside {lan.cidr} — pick an address in the LAN")
    return problems


def _router_networks(router: RouterSettings | None) -> dict[str, IPv4Network]:
    """The networks the router owns besides the LAN: the VPN tunnel (when on) and VLANs."""
    nets: dict[str, IPv4Network] = {}
    if router is None:
        return nets
    if router.vpn.enabled:
        nets["router.vpn.tunnelCidr"] = router.vpn.tunnel_cidr
    for i, vlan in enumerate(router.vlans):
        if vlan.cidr is not None:
            nets[f"router.vlans[{i}].cidr"] = vlan.cidr
    return nets


def _cidr_rules(network: Network, cluster: Cluster, router: RouterSettings | None = None) -> list[str]:
    """Every network the platform routes is disjoint from every other one."""
    cidrs = {"network.lan.cidr": network.lan.cidr, **_router_networks(router),
             "cluster.podCidr": cluster.pod_cidr, "cluster.serviceCidr": cluster.service_cidr}
    keys, problems = list(cidrs), []
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            if cidrs[a].overlaps(cidrs[b]):
                problems.append(f"{b}: {cidrs[b]} overlaps {a} {cidrs[a]} — choose disjoint ranges")
    return problems


def _admin_rules(network: Network, router: RouterSettings | None = None) -> list[str]:
    """Admin ranges: each listed once, none wider than the networks the router owns."""
    problems: list[str] = []
    first: dict[IPv4Network, int] = {}
    inside = [network.lan.cidr, *_router_networks(router).values()]
    widest = max(n.num_addresses for n in inside)
    for i, cidr in enumerate(network.admin_cidrs):
        key = f"network.adminCidrs[{i}]"
        if cidr in first:
            problems.append(f"{key}: {cidr} is already listed as network.adminCidrs[{first[cidr]}] — list each range once")
            continue
        first[cidr] = i
        if network.allow_public_admin or any(cidr.subnet_of(n) for n in inside):
            continue
        if cidr.num_addresses > widest:
            problems.append(
                f"{key}: {cidr} is wider than the LAN, VLANs and VPN tunnel — it would open the "
                "Kubernetes API (6443) and the Traefik dashboard (behind basic auth only) to every "
                "address in it; narrow it, or set network.allowPublicAdmin: true to accept that"
            )
    return problems


def _server_count_rules(cluster: Cluster) -> list[str]:
    if not cluster.servers:
        return ["cluster.servers: no servers — declare at least one k3s server"]
    if len(cluster.servers) % 2 == 0:
        return [f"cluster.servers: {len(cluster.servers)} servers give embedded etcd no quorum after one "
                "failure — use 1 or 3 (an odd number)"]
    return []


def _node_rules(network: Network, cluster: Cluster) -> list[str]:
    lan, problems = network.lan, []
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
            if node.ip not in lan.cidr:
                problems.append(f"{key}.ip: {node.ip} is outside the LAN {lan.cidr} — give the node an address in it")
            elif node.ip in (lan.cidr.network_address, lan.cidr.broadcast_address) and lan.cidr.prefixlen < 31:
                what = "network" if node.ip == lan.cidr.network_address else "broadcast"
                problems.append(f"{key}.ip: {node.ip} is the {what} address of {lan.cidr} — pick a host address")
            elif node.ip == lan.gateway:
                problems.append(f"{key}.ip: {node.ip} is the router's address — give the node its own address")
            elif node.ip in lan.dhcp_range:
                problems.append(
                    f"{key}.ip: {node.ip} is inside the DHCP range {lan.dhcp_range.start}-{lan.dhcp_range.end}"
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


def _router_port_rules(network: Network, cluster: Cluster, router: RouterSettings) -> list[str]:
    """With several servers HAProxy binds 80, 443 and 6443 on the router's LAN address; the
    pfSense web GUI (which serves pfrest) must not hold one of them there."""
    if not cluster.ha:
        return []
    url = urlsplit(router.api_url)
    port = url.port or (443 if url.scheme == "https" else 80)
    if url.hostname == str(network.lan.gateway) and port in HAPROXY_PORTS:
        return [
            f"router.apiUrl: the pfSense web GUI on {url.hostname}:{port} would hold a port HAProxy "
            f"needs ({', '.join(map(str, HAPROXY_PORTS))}) — move the GUI to another port "
            "(System > Advanced > Admin Access, e.g. 8443), tick 'Disable webConfigurator redirect "
            "rule' there (it holds port 80), and set router.apiUrl to https://<router>:8443"
        ]
    return []


def _host_rules(sections: Mapping[str, Any]) -> list[str]:
    """Every hostname under `domain`, and each used once (API, dashboard, tenant hosts)."""
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
    return problems


# Each cross-field rule and the top-level sections it reads: a rule runs whenever its
# sections parsed, so a typo in one section never hides a mistake in another.
def derived_names(sections: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(resource name, dotted key, value) for every resource name the program derives from a
    config value, using the program's own naming (see the component named per family).
    Names of different families never meet: each family has its own prefix."""
    out: list[tuple[str, str, str]] = []
    hosts: list[tuple[str, str]] = []  # router DNS overrides (network/payloads.py)
    if "cluster" in sections:
        cluster = sections["cluster"]
        hosts.append(("cluster.apiHostname", cluster.api_hostname))
        for group in ("servers", "agents"):
            for i, node in enumerate(getattr(cluster, group)):
                # k3s node commands (cluster/k3s_cluster.py) and DHCP mappings (payloads.py)
                out.append((f"node {node.name}", f"cluster.{group}[{i}].name", node.name))
    if "ingress" in sections:
        hosts.append(("ingress.dashboardHost", sections["ingress"].dashboard_host))
    for i, tenant in enumerate(sections.get("tenants", ())):
        out.append((f"tenant {tenant.name}", f"tenants[{i}].name", tenant.name))  # stack.py
        hosts += [(f"tenants[{i}].hosts[{j}]", h) for j, h in enumerate(tenant.hosts)]
    out += [(f"dns-{router_slug(h)}", key, h) for key, h in hosts]
    if "network" in sections:
        out += [(f"fw-admin-{router_slug(str(c))}", f"network.adminCidrs[{i}]", str(c))
                for i, c in enumerate(sections["network"].admin_cidrs)]
    if "router" in sections:
        router = sections["router"]
        out += [(f"vlan-{v.parent}-{v.tag}", f"router.vlans[{i}]", f"{v.parent}/{v.tag}")
                for i, v in enumerate(router.vlans)]
        # Each client: its certificate and its pfSense import (network/router.py).
        out += [(f"vpn-client-{c}{role}", f"router.vpn.clients[{i}]", c)
                for i, c in enumerate(router.vpn.clients) for role in ("", "-import")]
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
    (("network", "cluster"), ("router",), _cidr_rules),
    (("network",), ("router",), _admin_rules),
    (("cluster",), (), _server_count_rules),
    (("network", "cluster"), (), _node_rules),
    (("tenants",), (), _tenant_rules),
    (("network", "cluster", "router"), (), _router_port_rules),
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


RESERVED_NAMESPACES = frozenset(
    {"default", "kube-system", "kube-public", "kube-node-lease", "traefik", "cert-manager"}
)


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


# --- pydantic errors -> dotted keys ------------------------------------------------------

_HINTS = {
    "missing": "is required — add it to the stack config",
    "extra_forbidden": "is not a known key — remove it or check its spelling",
    "ip_v4_address": "is not a valid IPv4 address — write four dotted numbers, e.g. 192.168.10.11",
    "ip_v4_network": "is not a valid IPv4 network — write it as address/prefix with host bits zero, e.g. 192.168.10.0/24",
    "literal_error": None,
    "too_short": None,
}


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _message(err: dict) -> str:
    hint = _HINTS.get(err["type"])
    if hint:
        if err["type"] in ("ip_v4_address", "ip_v4_network"):
            return f"{err.get('input')!r} {hint}"
        return hint
    msg = err["msg"]
    # pydantic prefixes our own ValueErrors; keep only our words.
    msg = msg.removeprefix("Value error, ")
    if "—" not in msg:
        msg += " — fix the value"
    return msg


def _format_validation_error(exc: ValidationError, prefix: str = "") -> list[str]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p and "]" in p))
        key = _dotted(loc)
        if prefix:
            key = prefix + ("" if not key else key if key.startswith("[") else f".{key}")
        problems.append(f"{key or '(root)'}: {_message(err)}")
    return problems


# --- entry points ------------------------------------------------------------------------


def _parse_sections(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Validate each top-level section on its own; return those that parsed, and the errors."""
    sections: dict[str, Any] = {}
    problems: list[str] = []
    fields = {to_camel(name): (name, info) for name, info in StackConfig.model_fields.items()}
    for key in data:
        if key not in fields:
            problems.append(f"{key}: {_HINTS['extra_forbidden']}")
    for key, (name, info) in fields.items():
        if key not in data:
            if info.is_required():
                problems.append(f"{key}: {_HINTS['missing']}")
            else:
                sections[name] = info.get_default(call_default_factory=True)
            continue
        try:
            # The field's own constraints (validators, lengths) travel in its metadata; a
            # TypeAdapter of the bare annotation would drop them.
            annotated = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
            sections[name] = TypeAdapter(annotated).validate_python(data[key])
        except ValidationError as exc:
            problems += _format_validation_error(exc, prefix=key)
    return sections, problems


def parse_stack_config(raw: Mapping[str, Any], *, problems: list[str] | None = None) -> StackConfig:
    """Validate raw stack config (keys without the `k3s-platform:` prefix).

    Every problem is reported at once: `problems` found before (e.g. by `split_keys`), field
    errors of every section, then every cross-field rule whose sections parsed.
    """
    data = {k: v for k, v in raw.items() if k not in SECRET_KEYS}
    sections, found = _parse_sections(data)
    found = list(problems or ()) + found + cross_check(sections)
    if found:
        raise ConfigError(list(dict.fromkeys(found)))
    return StackConfig.model_validate(data)


def split_keys(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Full config keys (`namespace:key`) -> (this project's values by bare key, problems).

    A key whose namespace is neither the project's nor a known provider's is almost always
    a misspelled project name, which Pulumi would otherwise ignore without a word.
    """
    raw: dict[str, Any] = {}
    problems: list[str] = []
    for full_key in sorted(values):
        namespace, sep, key = full_key.partition(":")
        if sep and namespace == PROJECT:
            raw[key] = values[full_key]
        elif not sep or namespace not in PROVIDER_NAMESPACES:
            problems.append(
                f"{full_key}: {namespace!r} is neither this project's config namespace nor a "
                f"provider's — write the key as {PROJECT}:{key or namespace}"
            )
    return raw, problems


def parse_config_keys(values: Mapping[str, Any]) -> StackConfig:
    """Validate a stack's config as the CLI holds it: full keys, plain values."""
    raw, problems = split_keys(values)
    return parse_stack_config(raw, problems=problems)


@dataclass(frozen=True)
class Secrets:
    """Secret config values as secret Outputs; they never enter the typed model."""

    ssh_private_key: Any
    pfsense_api_key: Any
    dashboard_password: Any


def _raw_value(key: str, text: Any) -> Any:
    if key in STRING_KEYS or not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def read_stack_config() -> tuple[StackConfig, Secrets]:
    """Read and validate this stack's config from the Pulumi runtime."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    prefix = f"{PROJECT}:"
    # pulumi.Config can only look keys up, not list them; the runtime's config map (set by
    # the language host) and PULUMI_CONFIG (older hosts) hold every key, so unknown
    # top-level keys are caught like unknown nested ones.
    present = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    values = {}
    for full_key in sorted(present):
        key = full_key[len(prefix):] if full_key.startswith(prefix) else full_key
        values[full_key] = _raw_value(key, runtime_config.get_config(full_key))
    cfg = parse_config_keys(values)
    conf = pulumi.Config(PROJECT)
    secrets = Secrets(
        ssh_private_key=conf.require_secret("sshPrivateKey"),
        pfsense_api_key=conf.require_secret("pfsenseApiKey"),
        dashboard_password=conf.require_secret("dashboardPassword"),
    )
    return cfg, secrets


