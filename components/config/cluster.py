"""`cluster`: the k3s nodes, how to reach them and how k3s is installed."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Literal

from pydantic import Field, field_validator

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
    retention: Int = Field(default=12, ge=1)


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

