"""Stack nodes as real SSH hosts: one network namespace per node, addressed as the stack says,
on a bridge whose address is the stack's LAN gateway, each running a real OpenSSH server
configured as Debian ships it (`AcceptEnv LANG LC_*`, so pulumi-command's `Setenv` of any other
name is refused, as on a stock host).

sshd runs inside the host sandbox of tests/cluster/host_sandbox.py (a private mount namespace:
`/etc` and `/var/lib` overlays, a private `/usr/local/bin`, stand-ins for sudo, systemctl, the
installer and k3s), so every script a Command runs over SSH writes its real paths into that
host's own directories, and its stand-ins record what it did. Needs root, `ip`, `unshare` and
`sshd` (Debian: openssh-server); `.ci/run` installs it.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.cluster.host_sandbox import Host

SSHD = "/usr/sbin/sshd"


def missing() -> str | None:
    """What this machine lacks for SSH hosts, with the command that provides it; None if ready."""
    if os.geteuid() != 0:
        return "SSH hosts need root (network namespaces, mount namespaces): run as root"
    for tool, package in (("ip", "iproute2"), ("unshare", "util-linux"), ("ssh-keygen", "openssh-client")):
        if shutil.which(tool) is None:
            return f"{tool} not found: apt-get install {package}"
    if not Path(SSHD).is_file():
        return f"{SSHD} not found: apt-get install openssh-server"
    return None


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


@dataclass
class SshHost:
    name: str
    ip: str
    root: Path
    netns: str
    host: Host
    process: subprocess.Popen | None = None
    host_key_public: str = ""

    def calls(self) -> list[str]:
        return self.host.calls()

    def read(self, path: str) -> str | None:
        """A file as this host has it (its overlays), or None."""
        for base in ("etc-up", "lib-up", "local-bin"):
            prefix = {"etc-up": "/etc/", "lib-up": "/var/lib/", "local-bin": "/usr/local/bin/"}[base]
            if path.startswith(prefix):
                candidate = self.host.root / base / path[len(prefix):]
                return candidate.read_text() if candidate.is_file() else None
        return None


@dataclass
class SshLan:
    """A bridge with the LAN gateway's address and one SSH host per node."""

    root: Path
    gateway: str
    prefix: int
    user_key: Path = field(init=False)
    hosts: dict[str, SshHost] = field(default_factory=dict)
    bridge: str = "k3sp-br0"
    user: str = "root"  # the stack's ssh.user; any other name is a root-equivalent account on each host
    port: int = 22

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.user_key = self.root / "id_ed25519"
        if not self.user_key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.user_key)], check=True)
        _ip("link", "del", self.bridge, check=False)
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.gateway}/{self.prefix}", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")

    @property
    def private_key(self) -> str:
        return self.user_key.read_text()

    def add(self, name: str, ip: str) -> SshHost:
        netns = f"k3sp-{name}"
        veth = f"k3sp-{name}"[:15]
        _ip("netns", "del", netns, check=False)
        _ip("link", "del", veth, check=False)  # left by a run that ended before its close()
        _ip("netns", "add", netns)
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
        _ip("link", "set", veth, "master", self.bridge, "up")
        _ip("-n", netns, "addr", "add", f"{ip}/{self.prefix}", "dev", "eth0")
        _ip("-n", netns, "link", "set", "eth0", "up")
        _ip("-n", netns, "link", "set", "lo", "up")
        _ip("-n", netns, "route", "add", "default", "via", self.gateway)
        root = self.root / name
        (root / "sandbox").mkdir(parents=True)
        host = SshHost(name, ip, root, netns, Host(root / "sandbox"))
        if self.user != "root":
            # The stack's SSH user, as an account of the host's own /etc (its overlay). It has
            # uid 0: the sudo stand-in cannot raise privileges, so the user must already hold them.
            passwd = Path("/etc/passwd").read_text()
            (host.host.root / "etc-up" / "passwd").write_text(
                passwd + f"{self.user}:x:0:0:k3s-platform lab:/root:/bin/sh\n")
        self._start_sshd(host)
        self.hosts[name] = host
        return host

    def _start_sshd(self, h: SshHost) -> None:
        keys = h.root / "keys"
        keys.mkdir()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / "host_ed25519")], check=True)
        h.host_key_public = (keys / "host_ed25519.pub").read_text().strip()
        shutil.copy(self.user_key.with_suffix(".pub"), keys / "authorized_keys")
        sandbox = h.host.root
        path = f"{h.host.bin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        (keys / "sshd_config").write_text("\n".join([
            "ListenAddress 0.0.0.0",
            f"Port {self.port}",
            f"HostKey {keys / 'host_ed25519'}",
            f"PidFile {keys / 'sshd.pid'}",
            f"AuthorizedKeysFile {keys / 'authorized_keys'}",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "AcceptEnv LANG LC_*",  # Debian's and Ubuntu's default: nothing else may be Setenv
            "Subsystem sftp internal-sftp",  # CopyToRemote writes over SFTP
            f"SetEnv PATH={path} K3SP_HOST={h.host.state}",
            "",
        ]))
        mounts = (f"set -e; mkdir -p /run/sshd; "
                  f"mount -t overlay overlay -o lowerdir=/etc,upperdir={sandbox}/etc-up,workdir={sandbox}/etc-work /etc; "
                  f"mount -t overlay overlay -o lowerdir=/var/lib,upperdir={sandbox}/lib-up,workdir={sandbox}/lib-work /var/lib; "
                  f"mount --bind {sandbox}/local-bin /usr/local/bin; "
                  f"exec {SSHD} -D -e -f {keys / 'sshd_config'}")
        log = (h.root / "sshd.log").open("w")
        h.process = subprocess.Popen(
            ["ip", "netns", "exec", h.netns, "unshare", "--mount", "--propagation", "private", "sh", "-c", mounts],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((h.ip, self.port), timeout=0.5) as sock:
                    if sock.recv(4).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"sshd of {h.name} did not answer on {h.ip}:{self.port}: {(h.root / 'sshd.log').read_text()[-500:]}")

    def stop(self, name: str) -> None:
        """The host dies: sshd stops and its address goes away (a dead node)."""
        h = self.hosts[name]
        if h.process and h.process.poll() is None:
            os.killpg(h.process.pid, signal.SIGTERM)
            h.process.wait(timeout=10)
        _ip("netns", "del", h.netns, check=False)

    def close(self) -> None:
        for name in list(self.hosts):
            self.stop(name)
        _ip("link", "del", self.bridge, check=False)


def lan_for(cidr: str, gateway: str, root: Path) -> SshLan:
    return SshLan(root, gateway, ipaddress.ip_network(cidr).prefixlen)
