"""`cluster`: the k3s nodes, how to reach them and how k3s is installed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, field_validator

from components.config.types import (
    K3S_VERSION,
    SUPPORTED_KUBERNETES_MINORS,
    AbsolutePath,
    CronSchedule,
    DnsLabel,
    Hostname,
    Int,
    MacAddress,
    Model,
    NodeLabels,
    Port,
    PosixUser,
    Sha256,
    SshHostKey,
    Taint,
)

# A k3s config value as YAML gives it: a flag's kind is checked against k3s's flag table
# (components/config/k3s_options.py) by the cross-field rules, which name each key.
K3sValue = StrictBool | StrictInt | StrictStr | list[StrictStr]
K3sKeys = dict[str, K3sValue]

Role = Literal["server", "agent"]
# Where every server's API listens, and joiners register (through apiHostname).
API_PORT = 6443


class Node(Model):
    """One k3s host. `labels`/`taints` go to its k3s config (default: none). `hostKey`: the
    host's SSH public key as in known_hosts without the host name (`ssh-ed25519 AAAA...`);
    when set, the program refuses any other host at that address (default: not pinned).
    `dead`: the host is gone for good; its steps on the host are kept out of every later
    delete (retainOnDelete), so removing the node from the config in the next `up` deletes its
    Node object from the first server and drops its host steps from the state without dialing
    it (docs/operations.md, "Removing a dead node"; default false)."""

    name: DnsLabel
    ip: IPv4Address
    mac: MacAddress
    labels: NodeLabels = {}
    taints: tuple[Taint, ...] = ()
    host_key: SshHostKey | None = None
    dead: bool = False
    k3s: K3sKeys = Field(default={}, description=(
        "Extra k3s config keys for this node only (its role's flags), over cluster.k3s "
        "(default: none). Keys k3s needs identical on every server are refused here."))


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


class K3sOptions(Model):
    """Extra keys for k3s's `config.yaml`, as k3s names its flags (`kubelet-arg`,
    `flannel-backend`, `kube-apiserver-arg`...): `server` for every server, `agent` for every
    agent (default: none). Each key is checked against the flags of the pinned k3s version
    (components/config/k3s_flags.json); keys the program sets itself are refused, naming the
    setting that owns them; `disable`, `tls-san` and `kube-apiserver-arg` add to the program's
    entries. A change restarts k3s on the nodes concerned, one server at a time; the change
    mode refuses the keys fixed at cluster creation (docs/operations.md)."""

    server: K3sKeys = {}
    agent: K3sKeys = {}


class EtcdS3(Model):
    """Off-site etcd snapshots (k3s `etcd-s3-*`): every scheduled snapshot is also uploaded to
    this S3-compatible bucket. The credentials are the secret `etcdS3Credentials`
    (`accessKey`, `secretKey`), written to the servers from standard input, never into the
    rendered config. `endpoint`: host[:port] without a scheme; `insecure`: plain HTTP (a LAN
    store without TLS; default false); `endpointCa`: a CA file already on the servers;
    `retention`: snapshots kept in the bucket (default 12); `folder` (default none),
    `region` (default us-east-1), `bucketLookup` (auto|dns|path, default path: what MinIO
    and most LAN stores serve)."""

    endpoint: str = Field(pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$")
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    folder: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._/-]+$")
    region: str = Field(default="us-east-1", pattern=r"^[a-z0-9-]+$")
    insecure: bool = False
    skip_ssl_verify: bool = False
    endpoint_ca: AbsolutePath | None = None
    bucket_lookup: Literal["auto", "dns", "path"] = "path"
    retention: Int = Field(default=12, ge=1)


class EtcdSnapshots(Model):
    """k3s embedded-etcd snapshots (HA only). Default: every 6 hours, keep 12, on each server's
    disk; `s3` adds an off-site copy (default: none)."""

    enabled: bool = True
    schedule: CronSchedule = "0 */6 * * *"
    retention: Int = Field(default=12, ge=1)
    s3: EtcdS3 | None = None


RegistryHost = Annotated[str, Field(pattern=r"^(\*|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?)$")]
RegistryUrl = Annotated[str, Field(pattern=r"^https?://[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[A-Za-z0-9._/-]*)?$")]


class RegistryMirror(Model):
    """Where containerd pulls a registry's images from: `endpoints` in order (the upstream
    registry last, unless `disable-default-registry-endpoint` is set); `rewrite`: k3s's
    repository rewrites, regex -> replacement (default: none)."""

    endpoints: tuple[RegistryUrl, ...] = Field(min_length=1)
    rewrite: dict[str, str] = {}


class RegistryConfig(Model):
    """How containerd talks to one registry host. `auth`: log in with the username and
    password of this host in the secret `registryAuth` (default false). `caFile`,
    `insecureSkipVerify`: TLS to that host (defaults: system CAs, verify)."""

    auth: bool = False
    ca_file: AbsolutePath | None = None
    insecure_skip_verify: bool = False


class Registries(Model):
    """k3s's `/etc/rancher/k3s/registries.yaml` on every node: `mirrors` by registry name
    (`docker.io`, or `*`), `configs` by registry host. Credentials never appear here: they
    come from the secret `registryAuth` and reach the nodes on standard input."""

    mirrors: dict[RegistryHost, RegistryMirror] = {}
    configs: dict[RegistryHost, RegistryConfig] = {}


class Cluster(Model):
    k3s_version: str = Field(
        alias="k3sVersion",
        description="Pinned k3s release, e.g. v1.34.2+k3s1; its Kubernetes minor must be one of "
                    + ", ".join(f"v1.{m}" for m in SUPPORTED_KUBERNETES_MINORS) + ".")
    certificate_authorities: Literal["program", "adopt"] = Field(
        description="Who made the cluster's CAs. `program`: the program creates them (pulumi-tls, "
                    "protected) and puts them on every server before k3s first starts — for a new "
                    "cluster. `adopt`: k3s made them when an earlier version of this program "
                    "installed the cluster; the first server's CAs are read once and kept in state "
                    "(docs/adr/0011-program-owned-cluster-cas.md).")
    api_hostname: Hostname
    network: str = Field(
        default="lan",
        description="The network the nodes live on: `lan` (default) or the name of one of network.vlans. "
                    "Their addresses, DHCP mappings and the router's HAProxy backends are on it.")
    pod_cidr: IPv4Network = IPv4Network("10.42.0.0/16")
    service_cidr: IPv4Network = IPv4Network("10.43.0.0/16")
    ssh: Ssh
    servers: tuple[Node, ...]
    agents: tuple[Node, ...] = ()
    secrets_encryption: bool = True
    token_generation: Int = Field(
        default=1, ge=1, le=1000,
        description="Which cluster token the nodes use. Raise it by one to rotate the token: the "
                    "next `up` makes token N, rotates the first server to it with k3s's token API "
                    "(the tokens never on a command line), then gives it to every node "
                    "(docs/operations.md, \"Rotating the cluster token\"). Earlier tokens stay in "
                    "state: restoring a snapshot taken before a rotation needs the token of then.")
    etcd_snapshots: EtcdSnapshots = EtcdSnapshots()
    installer: Installer = Installer()
    k3s: K3sOptions = K3sOptions()
    registries: Registries | None = None

    @field_validator("k3s_version")
    @classmethod
    def _version_format(cls, version: str) -> str:
        match = K3S_VERSION.match(version)
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
        match = K3S_VERSION.match(self.k3s_version)
        return f"v1.{match.group(1)}" if match else "latest"

    @property
    def ha(self) -> bool:
        """Embedded etcd with several servers behind the router's HAProxy."""
        return len(self.servers) > 1

    @property
    def nodes(self) -> tuple[Node, ...]:
        return self.servers + self.agents

    @property
    def api_url(self) -> str:
        """The API endpoint kubeconfigs name and joining nodes register with."""
        return f"https://{self.api_hostname}:{API_PORT}"

    @property
    def members(self) -> tuple[Member, ...]:
        """Every node as the cluster runs it: servers first (the first one bootstraps the
        cluster), then agents; each with its role's k3s keys under its own."""
        servers = tuple(Member.of(node, "server", first=i == 0, server_url=None if i == 0 else self.api_url,
                                  role_keys=self.k3s.server) for i, node in enumerate(self.servers))
        agents = tuple(Member.of(node, "agent", first=False, server_url=self.api_url, role_keys=self.k3s.agent)
                       for node in self.agents)
        return servers + agents

    @property
    def active_snapshots(self) -> EtcdSnapshots | None:
        """The snapshot settings k3s runs with: embedded etcd (HA) with snapshots enabled."""
        return self.etcd_snapshots if self.ha and self.etcd_snapshots.enabled else None

    @property
    def active_etcd_s3(self) -> EtcdS3 | None:
        """The off-site copy k3s uploads snapshots to, when snapshots run at all."""
        return self.active_snapshots.s3 if self.active_snapshots is not None else None


@dataclass(frozen=True)
class Member:
    """One node as the cluster runs it, decided once from the config (`Cluster.members`):
    its role, whether it bootstraps the cluster (`first`), the endpoint it joins through
    (`server_url`, None for the first server) and its k3s keys (`options`: cluster.k3s.<role>,
    then the node's own). Renderers, the router's inventory and the node steps all read it."""

    name: str
    ip: IPv4Address
    role: Role
    mac: str = ""
    first: bool = False
    server_url: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[str, ...] = ()
    host_key: str | None = None
    dead: bool = False
    options: Mapping[str, K3sValue] = field(default_factory=dict)

    @classmethod
    def of(cls, node: Node, role: Role, *, first: bool, server_url: str | None, role_keys: K3sKeys) -> Member:
        return cls(name=node.name, ip=node.ip, role=role, mac=node.mac, first=first, server_url=server_url,
                   labels=dict(node.labels), taints=node.taints, host_key=node.host_key, dead=node.dead,
                   options={**role_keys, **node.k3s})

