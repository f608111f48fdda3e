"""What a rehearsal host runs in place of systemd and k3s: the host sandbox's stand-ins
(tests/cluster/host_sandbox.py) with three differences that make the cluster real.

- `systemctl start|restart k3s` blocks until the lab's stand-in k3s (tools/lab/k3s_standin.py)
  says the service is up, as systemd does for k3s's `Type=notify` unit; `stop` ends it.
- `k3s kubectl ...` is the real kubectl against the lab's API server, with the admin
  kubeconfig the stand-in k3s leaves on each server (as k3s writes its own `k3s.yaml`).
- k3s comes the air-gapped way (`cluster.installer.source: airgap`): the lab puts the binary
  of a version at /usr/local/bin/k3s and the installer at the configured path, as an operator
  does; the installer refuses to download anything, and the uninstall removes what k3s's own
  does (binary, `/etc/rancher/k3s`, `/var/lib/rancher/k3s`).

`sleep N` sleeps one second whatever N is: the scripts' wait loops poll every 5 s; the lab
keeps their logic and shortens the wait.
"""

from __future__ import annotations

from pathlib import Path

from tools.lab import binaries

SLEEP = "exec /bin/sleep 1\n"

SYSTEMCTL = """\
echo "systemctl $*" >> "$K3SP_HOST/calls"
[ "$1" = "--quiet" ] && shift
case "$1" in
  is-active)
    [ "$2" = "--quiet" ] && shift
    [ -f "$K3SP_HOST/running-$2" ] ;;
  restart|start)
    rm -f "$K3SP_HOST/ready-$2" "$K3SP_HOST/failed-$2"
    n=$(cat "$K3SP_HOST/starts-$2" 2>/dev/null || echo 0)
    echo $((n + 1)) > "$K3SP_HOST/starts-$2"
    touch "$K3SP_HOST/running-$2"
    i=0
    until [ -f "$K3SP_HOST/ready-$2" ]; do
      if [ -f "$K3SP_HOST/failed-$2" ]; then
        cat "$K3SP_HOST/failed-$2" >&2
        rm -f "$K3SP_HOST/running-$2"
        exit 1
      fi
      i=$((i + 1))
      [ "$i" -ge 900 ] && { echo "lab: $2 did not report ready within 180 s" >&2; exit 1; }
      /bin/sleep 0.2
    done ;;
  stop)
    rm -f "$K3SP_HOST/running-$2" "$K3SP_HOST/ready-$2" ;;
  *) exit 0 ;;
esac
"""

INSTALLER = """\
echo "installer version=$INSTALL_K3S_VERSION exec=$INSTALL_K3S_EXEC skip=${INSTALL_K3S_SKIP_DOWNLOAD:-}" >> "$K3SP_HOST/calls"
if [ "${INSTALL_K3S_SKIP_DOWNLOAD:-}" != true ]; then
  echo "lab host: no network to download k3s from (use cluster.installer.source: airgap)" >&2
  exit 1
fi
[ -x /usr/local/bin/k3s ] || { echo "installer: /usr/local/bin/k3s is missing" >&2; exit 1; }
svc=k3s
[ "$INSTALL_K3S_EXEC" = agent ] && svc=k3s-agent
mkdir -p /etc/systemd/system
printf '[Unit]\\nDescription=Lightweight Kubernetes (lab)\\n' > /etc/systemd/system/$svc.service
cp "$K3SP_HOST/uninstall" /usr/local/bin/$svc-uninstall.sh
[ "$svc" = k3s-agent ] || cp "$K3SP_HOST/uninstall" /usr/local/bin/k3s-uninstall.sh
systemctl restart $svc
"""

UNINSTALL = """\
echo "uninstall $(basename "$0")" >> "$K3SP_HOST/calls"
systemctl stop k3s
systemctl stop k3s-agent
rm -f /etc/systemd/system/k3s.service /etc/systemd/system/k3s-agent.service
rm -f /usr/local/bin/k3s /usr/local/bin/k3s-uninstall.sh /usr/local/bin/k3s-agent-uninstall.sh
rm -rf /etc/rancher/k3s /var/lib/rancher/k3s
rm -f "$K3SP_HOST/admin.kubeconfig"
"""


def k3s_binary(version: str) -> str:
    """The stand-in of the k3s binary of `version` (what an air-gapped operator copies)."""
    return f"""#!/bin/sh
# k3s {version} (rehearsal lab stand-in)
if [ "$1" = --version ]; then
  echo "k3s version {version} (lab)"
  echo "go version go1.24"
  exit 0
fi
echo "k3s $*" >> "$K3SP_HOST/calls"
case "$1" in
  kubectl)
    shift
    if [ ! -f "$K3SP_HOST/admin.kubeconfig" ]; then
      echo "The connection to the server 127.0.0.1:6443 was refused" >&2
      exit 1
    fi
    exec '{binaries.ensure_kubectl()}' --kubeconfig "$K3SP_HOST/admin.kubeconfig" --request-timeout=30s "$@" ;;
  *) exit 0 ;;
esac
"""


def _script(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body if body.startswith("#!") else "#!/bin/sh\n" + body)
    path.chmod(0o755)


def equip(host) -> None:
    """Give a sandbox host (tests/cluster/host_sandbox.Host) the rehearsal's stand-ins."""
    _script(host.bin / "systemctl", SYSTEMCTL)
    _script(host.bin / "sleep", SLEEP)
    _script(host.state / "uninstall", UNINSTALL)


def place_airgap(host, version: str, script_path: str) -> None:
    """Put the k3s binary of `version` and the installer where the air-gap install wants them
    (the operator's step before `pulumi up`; again before an upgrade)."""
    _script(host.root / "local-bin" / "k3s", k3s_binary(version))
    if not script_path.startswith("/var/lib/"):
        raise ValueError(f"the lab puts the installer under /var/lib only, not {script_path}")
    _script(host.root / "lib-up" / script_path[len("/var/lib/"):], INSTALLER)
