#!/bin/sh
# Install or reconfigure k3s server on cp2. Rendered by k3s-platform.
# config sha256: 0afe164f83221b9da3023566b3379b0935ee8079416d2796fbbd7a088e5e1743
# The cluster token arrives on standard input; it is never echoed or logged.
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

sudo install -d -m 0755 /etc/rancher/k3s
sudo sh -c 'umask 077; cat > /etc/rancher/k3s/cluster-token.new'

if command -v k3s >/dev/null 2>&1 \
  && sudo cmp -s /var/lib/k3s-platform/config.yaml /etc/rancher/k3s/config.yaml \
  && sudo cmp -s /etc/rancher/k3s/cluster-token.new /etc/rancher/k3s/cluster-token; then
  sudo rm -f /etc/rancher/k3s/cluster-token.new
  echo "k3s on cp2: config unchanged"
  exit 0
fi

sudo install -m 0600 -o root -g root /var/lib/k3s-platform/config.yaml /etc/rancher/k3s/config.yaml
sudo mv /etc/rancher/k3s/cluster-token.new /etc/rancher/k3s/cluster-token

if command -v k3s >/dev/null 2>&1; then
  # Installed already: keep its version, restart with the new config.
  version=$(k3s --version | awk 'NR == 1 { print $3 }')
else
  version='v1.34.2+k3s1'
fi
fetch_and_run_installer "$version"
wait_until_ready
echo "k3s server on cp2: ready at $version"
