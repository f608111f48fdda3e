#!/bin/sh
# Upgrade k3s agent on w1 to the pinned version. Rendered by k3s-platform.
# Servers upgrade one at a time, agents after every server (Kubernetes version skew policy).
set -eu
node='w1'

run_installer() {
  script=$(mktemp)
  curl -sfL --retry 3 -o "$script" "https://raw.githubusercontent.com/k3s-io/k3s/$(printf '%s' "$1" | sed 's/+/%2B/')/install.sh"
  sudo env INSTALL_K3S_VERSION="$1" INSTALL_K3S_EXEC=agent sh "$script"
  rm -f "$script"
}

restart_service() {
  if ! sudo systemctl restart k3s-agent; then
    echo "k3s-agent on $node failed to start — see 'journalctl -u k3s-agent' on the host" >&2
    exit 1
  fi
}

wait_until_ready() {
  i=0
  until systemctl is-active --quiet k3s-agent; do
    i=$((i + 1))
    if [ "$i" -ge 60 ]; then
      echo "k3s-agent on $node did not become ready within 5 minutes" >&2
      exit 1
    fi
    sleep 5
  done
}

target='v1.34.2+k3s1'
current=$(sudo cat /etc/rancher/k3s/k3s-platform-version 2>/dev/null || /usr/local/bin/k3s --version | awk 'NR == 1 { print $3 }')
if [ "$current" = "$target" ]; then
  echo "k3s on $node: already at $target"
  exit 0
fi
lowest=$(printf '%s\n%s\n' "$current" "$target" | sort -V | head -n 1)
if [ "$lowest" = "$target" ]; then
  echo "k3s on $node: runs $current; refusing to go down to $target (k3s cannot downgrade; restore an etcd snapshot instead)" >&2
  exit 1
fi
echo "k3s on $node: upgrading $current -> $target"
run_installer "$target"
wait_until_ready
printf '%s\n' "$target" | sudo tee /etc/rancher/k3s/k3s-platform-version >/dev/null
