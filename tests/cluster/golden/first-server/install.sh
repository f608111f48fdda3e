#!/bin/sh
# Install or reconfigure k3s server on cp1. Rendered by k3s-platform.
# config sha256: 1fdc21637f9f264dea709fe5581ca1fa2e6326bd44604367e700b81d3f4e8a66
# The cluster token arrives on standard input; it is never echoed or logged.
set -eu
node='cp1'

run_installer() {
  script=$(mktemp)
  curl -sfL --retry 3 -o "$script" "https://raw.githubusercontent.com/k3s-io/k3s/$(printf '%s' "$1" | sed 's/+/%2B/')/install.sh"
  sudo env INSTALL_K3S_VERSION="$1" INSTALL_K3S_EXEC=server sh "$script"
  rm -f "$script"
}

restart_service() {
  if ! sudo systemctl restart k3s; then
    echo "k3s on $node failed to start — see 'journalctl -u k3s' on the host" >&2
    exit 1
  fi
}

wait_until_ready() {
  i=0
  until sudo k3s kubectl get --raw /readyz >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -ge 60 ]; then
      echo "k3s on $node did not become ready within 5 minutes" >&2
      exit 1
    fi
    sleep 5
  done
}

sudo install -d -m 0755 /etc/rancher/k3s
sudo sh -c 'umask 077; cat > /etc/rancher/k3s/cluster-token.new'
changed=no
sudo cmp -s /var/lib/k3s-platform/config.yaml /etc/rancher/k3s/config.yaml || changed=yes
sudo cmp -s /etc/rancher/k3s/cluster-token.new /etc/rancher/k3s/cluster-token || changed=yes
if [ "$changed" = yes ]; then
  sudo install -m 0600 -o root -g root /var/lib/k3s-platform/config.yaml /etc/rancher/k3s/config.yaml
  sudo mv /etc/rancher/k3s/cluster-token.new /etc/rancher/k3s/cluster-token
else
  sudo rm -f /etc/rancher/k3s/cluster-token.new
fi
sudo rm -f /etc/rancher/k3s/config.yaml.d/50-k3s-platform-node.yaml
# Which node of the config owns this host: the uninstall of any other node leaves it alone.
printf '%s\n' "$node" | sudo tee /etc/rancher/k3s/k3s-platform-node >/dev/null

if [ -f /etc/systemd/system/k3s.service ]; then
  if [ "$changed" = yes ]; then
    echo "k3s on $node: config or token changed, restarting k3s"
    restart_service
  elif ! systemctl is-active --quiet k3s; then
    echo "k3s on $node: k3s is not running, starting it"
    restart_service
  else
    echo "k3s on $node: config unchanged"
  fi
else
  run_installer 'v1.34.2+k3s1'
  printf '%s\n' 'v1.34.2+k3s1' | sudo tee /etc/rancher/k3s/k3s-platform-version >/dev/null
fi
wait_until_ready
echo "k3s server on $node: ready"
