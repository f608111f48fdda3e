#!/bin/sh
# Upgrade k3s server on cp2 to the pinned version. Rendered by k3s-platform.
# Servers upgrade one at a time, agents after every server (Kubernetes version skew policy).
set -eu

fetch_and_run_installer() {
  # $1: the k3s version. The installer is taken from that release's own tag (not get.k3s.io's
  # moving copy); it downloads and checksums the binary and (re)starts the service.
  installer=$(mktemp)
  curl -sfL --retry 3 -o "$installer" "https://raw.githubusercontent.com/k3s-io/k3s/$(printf '%s' "$1" | sed 's/+/%2B/')/install.sh"
  sudo env INSTALL_K3S_VERSION="$1" INSTALL_K3S_EXEC="server" sh "$installer"
  rm -f "$installer"
}

wait_until_ready() {
  i=0
  until sudo k3s kubectl get --raw /readyz >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -ge 60 ]; then
      echo "k3s on cp2 did not become ready within 5 minutes" >&2
      exit 1
    fi
    sleep 5
  done
}

target='v1.34.2+k3s1'
current=$(k3s --version | awk 'NR == 1 { print $3 }')
if [ "$current" = "$target" ]; then
  echo "k3s on cp2: already at $target"
  exit 0
fi
echo "k3s on cp2: upgrading $current -> $target"
fetch_and_run_installer "$target"
wait_until_ready
