"""A throwaway k3s host for running the rendered node scripts for real.

Each script runs in its own mount namespace (`unshare --mount`, root only) where `/etc` and
`/var/lib` are overlays whose changes land in a temp dir, and `/usr/local/bin` is a private
dir, so the scripts write their real paths without touching this machine. `sudo`,
`systemctl`, `curl` and `sleep` are stand-ins on PATH; the "installer" they fetch and the
`k3s` binary it installs are stand-ins too. Every stand-in appends one line to `calls`, so
a test asserts on what the script did (installed, restarted, drained, uninstalled) and not
on its text. State that survives between runs (the host's files) lives in the overlay
upper dirs, like a real host between two `pulumi up`s.

Where the runner cannot make such a namespace (not root, or root without CAP_SYS_ADMIN) the
`host` fixture skips with the reason, or fails under K3SP_REQUIRE_PRIVILEGED=1 and in the
engine tier; tests/conftest.py counts and names those skips at the end of the run.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

# --- stand-ins (POSIX sh; $K3SP_HOST is the sandbox's state dir) -------------------------

SUDO = '[ "$1" = -n ] && shift\nexec "$@"\n'  # -n: non-interactive, as the doctor asks
SLEEP = 'exit 0\n'  # wait loops spin without waiting
SYSTEMCTL = """\
echo "systemctl $*" >> "$K3SP_HOST/calls"
[ "$1" = "--quiet" ] && shift
case "$1" in
  is-active)
    [ "$2" = "--quiet" ] && shift
    [ -f "$K3SP_HOST/running-$2" ] ;;
  restart|start)
    if [ -f "$K3SP_HOST/fail-start" ]; then exit 1; fi
    touch "$K3SP_HOST/running-$2" ;;
  *) exit 0 ;;
esac
"""
CURL = """\
if [ "$1" = -K ]; then
  # k3s's token API: the settings (tokens among them) come on stdin; only the flags are logged.
  echo "curl $*" >> "$K3SP_HOST/calls"
  cat > "$K3SP_HOST/curl-config"
  [ -f "$K3SP_HOST/token-api-down" ] && exit 7
  new=$(sed -n 's/^data = "{\\\\"newToken\\\\":\\\\"\\(.*\\)\\\\"}"$/\\1/p' "$K3SP_HOST/curl-config")
  old=$(cat /var/lib/rancher/k3s/server/token)
  printf '%s::server:%s\\n' "${old%%::*}" "$new" > /var/lib/rancher/k3s/server/token
  exit 0
fi
out=''
url=''
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out=$2; shift ;;
    -*) ;;
    *) url=$1 ;;
  esac
  shift
done
echo "curl $url" >> "$K3SP_HOST/calls"
cp "$K3SP_HOST/installer.sh" "$out"
"""
# What the fetched (or air-gapped) installer does: install the service and binary, start it.
INSTALLER = """\
echo "installer version=$INSTALL_K3S_VERSION exec=$INSTALL_K3S_EXEC skip=${INSTALL_K3S_SKIP_DOWNLOAD:-}" >> "$K3SP_HOST/calls"
svc=k3s
[ "$INSTALL_K3S_EXEC" = agent ] && svc=k3s-agent
mkdir -p /etc/systemd/system
echo "[Unit]" > /etc/systemd/system/$svc.service
if [ -z "${INSTALL_K3S_SKIP_DOWNLOAD:-}" ]; then
  echo "$INSTALL_K3S_VERSION" > "$K3SP_HOST/version"
  cp "$K3SP_HOST/k3s" /usr/local/bin/k3s
fi
cp "$K3SP_HOST/uninstall" /usr/local/bin/$svc-uninstall.sh
[ "$svc" = k3s-agent ] || cp "$K3SP_HOST/uninstall" /usr/local/bin/k3s-uninstall.sh
if [ -f "$K3SP_HOST/fail-start" ]; then exit 1; fi
touch "$K3SP_HOST/running-$svc"
"""
K3S = """\
if [ "$1" = --version ]; then
  echo "k3s version $(cat "$K3SP_HOST/version") (0000000)"
  echo "go version go1.24"
  exit 0
fi
echo "k3s $*" >> "$K3SP_HOST/calls"
case "$*" in
  "kubectl get --raw /readyz") [ -f "$K3SP_HOST/running-k3s" ] ;;
  "kubectl get node "*" -o jsonpath={.metadata.annotations.k3s-platform/"*)
    key=${6#*k3s-platform/}; key=${key%?}
    cat "$K3SP_HOST/annotation-$4-$key" 2>/dev/null || true ;;
  "kubectl annotate node "*)
    for arg in "$@"; do
      case "$arg" in k3s-platform/*=*) a=${arg#k3s-platform/}; printf '%s' "${a#*=}" > "$K3SP_HOST/annotation-$4-${a%%=*}" ;; esac
    done ;;
  "kubectl get node "*" -o "*) if [ -f "$K3SP_HOST/notready-$4" ]; then echo Unknown; else echo True; fi ;;
  "kubectl get node "*) [ -f "$K3SP_HOST/node-$4" ] ;;
  "kubectl drain "*) [ ! -f "$K3SP_HOST/drain-blocked" ] ;;
  *) exit 0 ;;
esac
"""
UNINSTALL = """\
echo "uninstall $(basename "$0")" >> "$K3SP_HOST/calls"
rm -f /etc/systemd/system/k3s.service /etc/systemd/system/k3s-agent.service /usr/local/bin/k3s
rm -f "$K3SP_HOST"/running-*
"""


# Where a missing privilege fails instead of skipping: the engine tier (its SSH hosts are these
# sandboxes) and .ci/run, whose runner has the privileges; everywhere else (an unprivileged
# docker runner of a team's GitLab or GitHub) the sandbox's tests skip with the reason.
REQUIRE_ENV = "K3SP_REQUIRE_PRIVILEGED"
SKIP_PREFIX = "host sandbox (privileged):"


def required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1" or os.environ.get("K3SP_ENGINE") == "1"


@functools.cache
def available() -> str | None:
    """Why the sandbox cannot run here, or None. Being root is not enough (a default docker
    container is root without CAP_SYS_ADMIN), so this tries what `Host.run` does: a private
    mount namespace with an overlay and a bind mount."""
    if shutil.which("unshare") is None:
        return "needs unshare (util-linux)"
    if os.geteuid() != 0:
        return "needs root for a private mount namespace (CI runs as root)"
    with tempfile.TemporaryDirectory(prefix="k3sp-probe-") as tmp:
        for d in ("lower", "upper", "work", "merged", "bind"):
            os.mkdir(os.path.join(tmp, d))
        mounts = (f"mount -t overlay overlay -o lowerdir={tmp}/lower,upperdir={tmp}/upper,workdir={tmp}/work "
                  f"{tmp}/merged && mount --bind {tmp}/bind {tmp}/merged")
        try:
            probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", mounts],
                                   capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            return "a private mount namespace did not come up within 30 s"
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or [f"exit {probe.returncode}"])[-1]
        return (f"this runner refuses a private mount namespace with overlay mounts ({why}): it lacks "
                "CAP_SYS_ADMIN, as a default docker runner does; these tests run in .ci/run and the engine tier")
    return None


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str


class Host:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / "state"
        self.bin = root / "bin"
        for d in ("state", "bin", "local-bin", "etc-up", "etc-work", "lib-up", "lib-work"):
            (root / d).mkdir()
        for name, text in (("sudo", SUDO), ("sleep", SLEEP), ("systemctl", SYSTEMCTL), ("curl", CURL)):
            self._script(self.bin / name, text)
        for name, text in (("installer.sh", INSTALLER), ("k3s", K3S), ("uninstall", UNINSTALL)):
            self._script(self.state / name, text)
        (self.state / "calls").write_text("")

    @staticmethod
    def _script(path: Path, body: str) -> None:
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)

    def run(self, script: str, stdin: str = "") -> Result:
        r = self.root
        mounts = textwrap.dedent(f"""\
            set -e
            mount -t overlay overlay -o lowerdir=/etc,upperdir={r}/etc-up,workdir={r}/etc-work /etc
            mount -t overlay overlay -o lowerdir=/var/lib,upperdir={r}/lib-up,workdir={r}/lib-work /var/lib
            mount --bind {r}/local-bin /usr/local/bin
            exec sh "$0"
            """)
        path = r / "script.sh"
        path.write_text(script)
        env = {"PATH": f"{self.bin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "K3SP_HOST": str(self.state)}
        proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", mounts, str(path)],
                              input=stdin, capture_output=True, text=True, env=env, timeout=60)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def stage(self, path: str, text: str) -> None:
        """Put a file on the host as CopyToRemote would (as the SSH user, before the script)."""
        result = self.run(f"mkdir -p {os.path.dirname(path)}\ncat > {path}\n", stdin=text)
        assert result.rc == 0, result.stderr

    def read(self, path: str) -> str | None:
        result = self.run(f"cat {path}\n")
        return result.stdout if result.rc == 0 else None

    def calls(self) -> list[str]:
        """The stand-ins' records since the last call, then forget them."""
        log = self.state / "calls"
        lines = log.read_text().splitlines()
        log.write_text("")
        return lines

    def flag(self, name: str, on: bool = True) -> None:
        (self.state / name).touch() if on else (self.state / name).unlink(missing_ok=True)


@pytest.fixture
def host(tmp_path):
    why = available()
    if why:
        if required():
            pytest.fail(f"{REQUIRE_ENV}=1 (or the engine tier): {SKIP_PREFIX} {why}", pytrace=False)
        pytest.skip(f"{SKIP_PREFIX} {why}")
    return Host(tmp_path)
