#!/bin/sh
# Uninstall k3s server from lab1. Rendered by k3s-platform.
set -eu
node='lab1'
owner=$(sudo cat /etc/rancher/k3s/k3s-platform-node 2>/dev/null || true)
if [ -n "$owner" ] && [ "$owner" != "$node" ]; then
  echo "this host now runs k3s node $owner, not $node: leaving k3s in place"
  exit 0
fi
if [ -x /usr/local/bin/k3s-uninstall.sh ]; then
  sudo /usr/local/bin/k3s-uninstall.sh
else
  echo "k3s is not installed on $node; nothing to remove"
fi
sudo rm -rf /etc/rancher/k3s/cluster-token /etc/rancher/k3s/config.yaml /etc/rancher/k3s/k3s-platform-node /etc/rancher/k3s/k3s-platform-version /var/lib/k3s-platform
