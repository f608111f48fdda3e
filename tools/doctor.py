"""`./run doctor <stack>` — before the first `pulumi up`, check from this machine what would
otherwise fail half-way through it.

    python -m tools.doctor <stack> [--config-file FILE] [--ssh-key FILE] [--api-key-file FILE]

Per node, over SSH with the stack's user, port and key (the system's `ssh` and `sftp`):
- it answers, with the pinned `hostKey` when the config has one;
- `sudo` works without a password (every node script runs it non-interactively);
- SFTP works (pulumi-command's CopyToRemote writes the k3s config over it);
- its clock is within 2 s of this machine's (certificates, etcd);
- the ports k3s will listen on are free where k3s is not installed yet.
The router: the API host resolves, the API answers with the key, and the key may read every
endpoint the driver uses (read-only GETs only: a 403 names the missing privilege; write
privileges cannot be seen without writing, docs/router.md lists them). DNS of apiHostname is
reported, not required: the program creates its override.

The secrets come from the stack (`pulumi config get --stack <stack> sshPrivateKey`, so your
backend login and passphrase) unless `--ssh-key` / `--api-key-file` name files. Nothing is
changed anywhere. Exit: 0 every check passed, 1 some failed (each names the node or key and
the fix), 2 the stack config is invalid.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

CLOCK_SKEW_SECONDS = 2.0
# Ports k3s listens on: servers (API, etcd client/peer when HA, supervisor metrics share 6443),
# and every node's kubelet.
SERVER_PORTS = (6443,)
ETCD_PORTS = (2379, 2380)
NODE_PORTS = (10250,)


@dataclass(frozen=True)
class Finding:
    where: str  # `node cp1`, `router`, ...
    check: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.where}: {self.check} — {self.detail}"


@dataclass(frozen=True)
class NodeTarget:
    name: str
    key: str  # dotted config key, for the messages
    ip: str
    role: str
    host_key: str | None


def _ssh_base(node: NodeTarget, user: str, port: int, key_file: Path, known_hosts: Path) -> list[str]:
    pin = ["-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes"] if node.host_key else [
        "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=accept-new"]
    return ["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "IdentitiesOnly=yes",
            "-o", "LogLevel=ERROR", "-i", str(key_file), "-p", str(port), *pin]


def _run(cmd: list[str], stdin: str = "", timeout: float = 20) -> tuple[int, str, str]:
    try:
        done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, "", "timed out"
    return done.returncode, done.stdout, done.stderr


def _ssh_failure(node: NodeTarget, user: str, port: int, err: str) -> str:
    text = err.lower()
    if "host key verification failed" in text or "remote host identification has changed" in text:
        return (f"{node.ip} answers with another host key than {node.key}.hostKey — if the host was "
                "rebuilt, put its new key there (ssh-keyscan -t ed25519 " + node.ip + "); otherwise "
                "something else answers at that address")
    if "permission denied" in text:
        return (f"{user}@{node.ip} refused the key — add the stack's public key to ~{user}/.ssh/"
                "authorized_keys on the host, or fix cluster.ssh.user")
    if "timed out" in text or "no route" in text or "connection refused" in text:
        return f"no SSH server answers on {node.ip}:{port} — check the host is up and cluster.ssh.port"
    return f"ssh to {user}@{node.ip}:{port} failed: {err.strip().splitlines()[-1] if err.strip() else 'no output'}"


def check_node(node: NodeTarget, user: str, port: int, key_file: Path, k3s_ha: bool,
               now: Callable[[], float] = time.time) -> list[Finding]:
    where = f"node {node.name}"
    with tempfile.TemporaryDirectory() as tmp:
        known = Path(tmp) / "known_hosts"
        known.write_text(f"[{node.ip}]:{port} {node.host_key}\n{node.ip} {node.host_key}\n" if node.host_key else "")
        base = _ssh_base(node, user, port, key_file, known)
        rc, out, err = _run(["ssh", *base, f"{user}@{node.ip}", "echo k3sp-ok"])
        if rc != 0 or "k3sp-ok" not in out:
            return [Finding(where, "ssh", False, _ssh_failure(node, user, port, err))]
        pinned = "host key as pinned" if node.host_key else (
            f"host key not pinned — set {node.key}.hostKey to `{_scanned(known)}` to refuse any other host")
        found = [Finding(where, "ssh", True, f"{user}@{node.ip}:{port}, {pinned}")]

        rc, _, err = _run(["ssh", *base, f"{user}@{node.ip}", "sudo -n true"])
        found.append(Finding(where, "sudo", rc == 0, "passwordless" if rc == 0 else (
            f"`sudo -n true` failed for {user} ({(err.strip().splitlines() or ['no output'])[-1]}) — the "
            f"node scripts run sudo non-interactively: add `{user} ALL=(ALL) NOPASSWD: ALL` in /etc/sudoers.d/")))

        rc, _, err = _run(["sftp", *_sftp_args(base), "-b", "-", f"{user}@{node.ip}"], stdin="pwd\n")
        found.append(Finding(where, "sftp", rc == 0, "the SFTP subsystem answers" if rc == 0 else (
            "no SFTP — pulumi-command copies the k3s config over it: enable `Subsystem sftp` in "
            "/etc/ssh/sshd_config")))

        before = now()
        rc, out, _ = _run(["ssh", *base, f"{user}@{node.ip}", "date +%s.%N"])
        after = now()
        try:
            remote = float(out.strip().replace("N", "0"))
        except ValueError:
            remote = None
        if remote is None:
            found.append(Finding(where, "clock", False, "could not read the host's clock (`date +%s.%N`)"))
        else:
            # The host read its clock while the call ran: only time outside [before, after] is skew.
            skew = remote - before if remote < before else remote - after if remote > after else 0.0
            ok = abs(skew) <= CLOCK_SKEW_SECONDS
            found.append(Finding(where, "clock", ok, f"{skew:+.1f} s from this machine" if ok else (
                f"{skew:+.1f} s from this machine — enable time sync on the host (systemd-timesyncd or "
                "chrony): certificates and etcd need agreeing clocks")))

        ports = list(NODE_PORTS) + (list(SERVER_PORTS) + (list(ETCD_PORTS) if k3s_ha else []) if node.role == "server" else [])
        script = ("if [ -f /etc/systemd/system/k3s.service ] || [ -f /etc/systemd/system/k3s-agent.service ]; "
                  "then echo installed; else ss -Hltn 2>/dev/null || netstat -ltn 2>/dev/null; fi")
        rc, out, _ = _run(["ssh", *base, f"{user}@{node.ip}", script])
        if out.strip() == "installed":
            found.append(Finding(where, "ports", True, "k3s is installed: its ports are its own"))
        else:
            taken = sorted(p for p in ports if any(f":{p} " in f"{line} " for line in out.splitlines()))
            found.append(Finding(where, "ports", not taken, f"{', '.join(map(str, ports))} free" if not taken else (
                f"port(s) {', '.join(map(str, taken))} already in use — k3s needs them: stop what listens there")))
    return found


def _sftp_args(ssh_base: list[str]) -> list[str]:
    """ssh's options as sftp takes them (`-P` for the port)."""
    out, i = [], 0
    while i < len(ssh_base):
        if ssh_base[i] == "-p":
            out += ["-P", ssh_base[i + 1]]
            i += 2
            continue
        out.append(ssh_base[i])
        i += 1
    return out


def _scanned(known: Path) -> str:
    lines = [line.split(" ", 1)[1] for line in known.read_text().splitlines() if " " in line]
    return lines[0] if lines else "(see ssh-keyscan)"


def check_router(api_url: str, api_key: str, verify_tls: bool, ca_bundle: str | None,
                 timeout: float) -> list[Finding]:
    from components.network import kinds
    from components.network.driver import PfRestDriver, RouterAuthError, RouterError, RouterHttpError

    host = urlsplit(api_url).hostname or ""
    found: list[Finding] = []
    try:
        addresses = sorted({str(a[4][0]) for a in socket.getaddrinfo(host, None)})
        found.append(Finding("router", "dns", True, f"{host} is {', '.join(addresses)}"))
    except OSError:
        return [Finding("router", "dns", False, f"{host} (router.apiUrl) does not resolve — fix DNS on this "
                        "machine or write the router's address in router.apiUrl")]
    driver = PfRestDriver(api_url, api_key, verify_tls=verify_tls, ca_bundle=ca_bundle, timeout=timeout, retries=0)
    missing: list[str] = []
    for path, methods in kinds.api_privileges():
        if "GET" not in methods:
            continue
        try:
            driver.request("GET", path)
        except RouterAuthError as err:
            # The driver folds 401 (no such key) and 403 (a privilege the key's user lacks) into
            # one error; its message carries the status.
            if "(HTTP 403)" in str(err):
                missing.append(kinds.privilege_name(path, "GET"))
                continue
            return found + [Finding("router", "api key", False, f"{api_url} refused the key (401) — set the "
                                    "secret pfsenseApiKey to a key of the router's API user")]
        except RouterHttpError:
            pass  # any other answer (400/404 for a singular path without an id) passed the privilege check
        except RouterError as err:
            return found + [Finding("router", "api", False, f"{api_url} does not answer: {err}")]
    found.append(Finding("router", "api key", True, f"{api_url} accepts the key"))
    found.append(Finding("router", "privileges", not missing, (
        "the key may read every endpoint the driver uses (write privileges: docs/router.md)") if not missing else (
        f"the key lacks {', '.join(missing)} — grant them to the API user's group (docs/router.md lists "
        "every privilege the program needs)")))
    return found


def _secret(stack: str, key: str, path: Path | None) -> str:
    if path is not None:
        return path.read_text()
    rc, out, err = _run(["pulumi", "config", "get", "--stack", stack, key], timeout=60)
    if rc != 0:
        raise SystemExit(f"doctor: cannot read the secret {key} with the Pulumi CLI ({err.strip()[-200:]}) — "
                         f"log in to the stack's backend, or pass it as a file")
    return out.rstrip("\n") + ("\n" if key == "sshPrivateKey" else "")


def targets(cfg) -> list[NodeTarget]:
    out = []
    for group, role in (("servers", "server"), ("agents", "agent")):
        for i, node in enumerate(getattr(cfg.cluster, group)):
            if not node.dead:
                out.append(NodeTarget(node.name, f"cluster.{group}[{i}]", str(node.ip), role, node.host_key))
    return out


def main(argv: list[str] | None = None) -> int:
    from components.config import ConfigError
    from tools.caller import caller_path
    from tools.imitations.harness import ConfigFileError, stack_config

    parser = argparse.ArgumentParser(prog="./run doctor", description=__doc__.split("\n\n")[0])
    parser.add_argument("stack")
    parser.add_argument("--config-file", type=Path)
    parser.add_argument("--ssh-key", type=Path, help="the SSH private key (default: the stack's secret)")
    parser.add_argument("--api-key-file", type=Path, help="the router API key (default: the stack's secret)")
    args = parser.parse_args(argv)
    try:
        cfg = stack_config(args.stack, caller_path(args.config_file) if args.config_file else None)
    except ConfigError as err:
        print(err.report(args.stack), file=sys.stderr)
        return 2
    except ConfigFileError as err:
        print(err, file=sys.stderr)
        return 2
    findings: list[Finding] = []
    with tempfile.TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "id"
        key_file.write_text(_secret(args.stack, "sshPrivateKey",
                                    caller_path(args.ssh_key) if args.ssh_key else None))
        os.chmod(key_file, 0o600)
        for node in targets(cfg):
            findings += check_node(node, cfg.cluster.ssh.user, cfg.cluster.ssh.port, key_file, cfg.cluster.ha)
    api_key = _secret(args.stack, "pfsenseApiKey", caller_path(args.api_key_file) if args.api_key_file else None).strip()
    router = cfg.router
    findings += check_router(router.api_url, api_key, router.verify_tls, router.ca_bundle, router.timeout_seconds)
    try:
        socket.getaddrinfo(cfg.cluster.api_hostname, None)
        findings.append(Finding("cluster", "apiHostname", True, f"{cfg.cluster.api_hostname} resolves"))
    except OSError:
        findings.append(Finding("cluster", "apiHostname", True, f"{cfg.cluster.api_hostname} does not resolve yet: "
                                "the first `up` creates its override on the router"))
    for finding in findings:
        print(finding.line())
    failed = [f for f in findings if not f.ok]
    print(f"FAILED: {len(failed)} check(s)" if failed else f"ok: {len(findings)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
