"""Policy `pod-security-restricted`: the Pod Security Standards "restricted" profile,
except the non-root controls (see `nonroot.py`), for every workload.

Creates one ResourceValidationPolicy. The checks follow the Kubernetes Pod Security
admission controller at the configured Kubernetes minor (`kubernetesVersion`, default
"1.34" = the k3s minor this platform pins):

baseline  host namespaces, privileged, capabilities (baseline set), hostPath volumes,
          host ports, AppArmor, SELinux, /proc mount type, seccomp (no Unconfined),
          sysctls (safe set of that minor), Windows HostProcess, host in probes and
          lifecycle handlers (from 1.34);
restricted  volume types, allowPrivilegeEscalation false, capabilities drop ALL /
          add only NET_BIND_SERVICE, seccomp RuntimeDefault or Localhost.
Windows pods (`spec.os.name: windows`) skip the Linux-only restricted controls, as
admission does.
Ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/
"""

from __future__ import annotations

import re
from typing import Any

from ._k8s import (
    PodSpec,
    as_list,
    containers,
    fmt_num,
    get,
    is_map,
    is_windows,
    pod_specs,
    resource_policy,
)
from ._settings import Setting

NAME = "pod-security-restricted"

# Safe sysctls by the Kubernetes minor that first allows them in Pod Security "baseline".
# Ref: https://kubernetes.io/docs/tasks/administer-cluster/sysctl-cluster/#safe-and-unsafe-sysctls
SAFE_SYSCTLS: dict[tuple[int, int], frozenset[str]] = {
    (1, 0): frozenset({
        "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
    }),
    (1, 27): frozenset({"net.ipv4.ip_local_reserved_ports"}),
    (1, 29): frozenset({
        "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
    }),
    (1, 32): frozenset({"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}),
    # Only in the 1.37 development line (conformance fixtures v1.37, pass/sysctls1.yaml).
    (1, 37): frozenset({"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"}),
}

SELINUX_TYPES: dict[tuple[int, int], frozenset[str]] = {
    (1, 0): frozenset({"", "container_t", "container_init_t", "container_kvm_t"}),
    (1, 31): frozenset({"container_engine_t"}),
}

# Docker's default capability set: the only ones "baseline" lets a container add.
BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})
RESTRICTED_ADD_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
SECCOMP_ALLOWED = ("RuntimeDefault", "Localhost")
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
PROBE_KEYS = ("livenessProbe", "readinessProbe", "startupProbe")
HOST_PROBES_SINCE = (1, 34)

SETTINGS = {
    "kubernetesVersion": Setting(
        "1.34", {"type": "string", "pattern": r"^1\.[0-9]+$"},
        "Kubernetes minor (\"1.N\") whose Pod Security rules apply: safe sysctls, "
        "SELinux types and the host-probe check depend on it. Default: \"1.34\"."),
    "allowedVolumeTypes": Setting(
        ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
         "secret"],
        {"type": "array", "items": {"type": "string"}},
        "Volume sources a pod may use (restricted profile list by default)."),
    "exemptNamespaces": Setting(
        [], {"type": "array", "items": {"type": "string"}},
        "Namespaces whose pods are not checked. Default: none."),
}


def parse_version(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"1\.(\d+)", str(text).strip())
    if not match:
        raise ValueError(f"kubernetesVersion: {text!r} is not a Kubernetes minor like \"1.34\"")
    return (1, int(match.group(1)))


def _allowed_from(table: dict[tuple[int, int], frozenset[str]], version: tuple[int, int]) -> frozenset[str]:
    allowed: set[str] = set()
    for since, names in table.items():
        if version >= since:
            allowed |= names
    return frozenset(allowed)


def safe_sysctls(version: tuple[int, int]) -> frozenset[str]:
    return _allowed_from(SAFE_SYSCTLS, version)


def check_restricted(resource_type: str, props: Any, cfg: dict) -> list[str]:
    """Messages for every restricted-profile control the object breaks; empty when compliant."""
    if get(props, "metadata", "namespace") in cfg["exemptNamespaces"]:
        return []
    version = parse_version(cfg["kubernetesVersion"])
    problems: list[str] = []
    for pod in pod_specs(resource_type, props):
        problems += _pod_level(pod, cfg, version)
        problems += _container_level(pod, version)
    return problems


def _pod_level(pod: PodSpec, cfg: dict, version: tuple[int, int]) -> list[str]:
    out: list[str] = []
    spec, at = pod.spec, pod.path
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if get(spec, field) is True:
            out.append(f"{at}.{field} is true; pods must not share host namespaces")
    ctx = get(spec, "securityContext", default={})
    if get(ctx, "windowsOptions", "hostProcess") is True:
        out.append(f"{at}.securityContext.windowsOptions.hostProcess is true; HostProcess pods are not allowed")
    out += _selinux(get(ctx, "seLinuxOptions"), f"{at}.securityContext", version)
    if get(ctx, "appArmorProfile", "type") == "Unconfined":
        out.append(f"{at}.securityContext.appArmorProfile.type is Unconfined; use RuntimeDefault or Localhost")
    pod_seccomp = get(ctx, "seccompProfile", "type")
    if pod_seccomp == "Unconfined":
        out.append(f"{at}.securityContext.seccompProfile.type is Unconfined; use RuntimeDefault or Localhost")
    allowed_sysctls = safe_sysctls(version)
    for sysctl in as_list(get(ctx, "sysctls")):
        name = get(sysctl, "name")
        if name not in allowed_sysctls:
            out.append(f"{at}.securityContext.sysctls: {name!r} is not a safe sysctl in Kubernetes "
                       f"1.{version[1]}")
    allowed_volumes = set(cfg["allowedVolumeTypes"])
    for i, volume in enumerate(as_list(get(spec, "volumes"))):
        if not is_map(volume):
            continue
        vname = get(volume, "name", default=f"#{i}")
        for source in volume.keys():
            if source == "name" or get(volume, source) is None:
                continue
            if source not in allowed_volumes:
                reason = "hostPath volumes are forbidden" if source == "hostPath" else \
                    f"allowed types: {', '.join(sorted(allowed_volumes))}"
                out.append(f"{at}.volumes[{i}] ({vname!r}) uses {source}; {reason}")
    annotations = get(pod.metadata, "annotations", default={})
    if is_map(annotations):
        for key in annotations.keys():
            if str(key).startswith(APPARMOR_ANNOTATION_PREFIX):
                value = str(get(annotations, key, default=""))
                if value not in ("", "runtime/default") and not value.startswith("localhost/"):
                    out.append(f"annotation {key}={value!r}: AppArmor profile must be runtime/default "
                               f"or localhost/<profile>")
    return out


def _selinux(options: Any, at: str, version: tuple[int, int]) -> list[str]:
    if not is_map(options):
        return []
    out = []
    kind = get(options, "type", default="")
    if kind not in _allowed_from(SELINUX_TYPES, version):
        out.append(f"{at}.seLinuxOptions.type {kind!r} is not allowed (container_t, container_init_t, "
                   f"container_kvm_t{', container_engine_t' if version >= (1, 31) else ''})")
    for field in ("user", "role"):
        if get(options, field, default=""):
            out.append(f"{at}.seLinuxOptions.{field} must not be set")
    return out


def _container_level(pod: PodSpec, version: tuple[int, int]) -> list[str]:
    out: list[str] = []
    linux = not is_windows(pod)
    pod_seccomp = get(pod.spec, "securityContext", "seccompProfile", "type")
    for c in containers(pod):
        where = c.label(pod)
        ctx = get(c.body, "securityContext", default={})
        if get(ctx, "privileged") is True:
            out.append(f"{where}: securityContext.privileged is true; privileged containers are not allowed")
        if get(ctx, "windowsOptions", "hostProcess") is True:
            out.append(f"{where}: securityContext.windowsOptions.hostProcess is true; not allowed")
        proc_mount = get(ctx, "procMount")
        if proc_mount not in (None, "Default"):
            out.append(f"{where}: securityContext.procMount is {proc_mount!r}; only Default is allowed")
        out += _selinux(get(ctx, "seLinuxOptions"), f"{where}: securityContext", version)
        if get(ctx, "appArmorProfile", "type") == "Unconfined":
            out.append(f"{where}: securityContext.appArmorProfile.type is Unconfined")
        for j, port in enumerate(as_list(get(c.body, "ports"))):
            host_port = get(port, "hostPort")
            if host_port not in (None, 0):
                out.append(f"{where}: ports[{j}].hostPort {fmt_num(host_port)} is set; host ports are not allowed")
        out += _host_in_handlers(c.body, where, version)

        seccomp = get(ctx, "seccompProfile", "type")
        if seccomp == "Unconfined":
            out.append(f"{where}: securityContext.seccompProfile.type is Unconfined")
        elif linux and (seccomp or pod_seccomp) not in SECCOMP_ALLOWED:
            out.append(f"{where}: seccompProfile.type must be RuntimeDefault or Localhost "
                       f"(set it at pod or container level)")

        added = [str(a) for a in as_list(get(ctx, "capabilities", "add"))]
        allowed_add = RESTRICTED_ADD_CAPABILITIES if linux else BASELINE_CAPABILITIES
        bad = [a for a in added if a not in allowed_add]
        if bad:
            out.append(f"{where}: capabilities.add {bad} not allowed; only "
                       f"{', '.join(sorted(allowed_add))} may be added")
        if linux:
            if get(ctx, "allowPrivilegeEscalation") is not False:
                out.append(f"{where}: securityContext.allowPrivilegeEscalation must be set to false")
            dropped = [str(d) for d in as_list(get(ctx, "capabilities", "drop"))]
            if "ALL" not in dropped:
                out.append(f"{where}: securityContext.capabilities.drop must include ALL")
    return out


def _host_in_handlers(container: Any, where: str, version: tuple[int, int]) -> list[str]:
    if version < HOST_PROBES_SINCE:
        return []
    handlers = [(key, get(container, key)) for key in PROBE_KEYS]
    handlers += [(f"lifecycle.{key}", get(container, "lifecycle", key)) for key in ("postStart", "preStop")]
    out = []
    for label, handler in handlers:
        for action in ("httpGet", "tcpSocket"):
            host = get(handler, action, "host")
            if host:
                out.append(f"{where}: {label}.{action}.host is {host!r}; probes and lifecycle hooks "
                           f"must not target another host")
    return out


POLICY = resource_policy(
    NAME,
    "Workloads must meet Pod Security \"restricted\" (no privilege, host access, "
                "extra capabilities or unconfined profiles).",
    check_restricted, SETTINGS)
