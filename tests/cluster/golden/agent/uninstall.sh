#!/bin/sh
# Uninstall k3s agent from w1. Rendered by k3s-platform.
set -eu
if [ -x /usr/local/bin/k3s-agent-uninstall.sh ]; then
  sudo /usr/local/bin/k3s-agent-uninstall.sh
else
  echo "k3s is not installed on w1; nothing to remove"
fi
sudo rm -rf /etc/rancher/k3s/cluster-token /etc/rancher/k3s/config.yaml /var/lib/k3s-platform
