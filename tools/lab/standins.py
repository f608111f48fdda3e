"""What k3s runs that the lab's control plane stands in for, as one small loop (`python -m
tools.lab.standins KUBECONFIG NODE_IP...`), started and stopped with the lab:

- ServiceLB: a `LoadBalancer` Service gets `status.loadBalancer.ingress` = the nodes' addresses
  (k3s's ServiceLB does this with a DaemonSet of host-port pods; without it Helm's and Pulumi's
  readiness checks of a LoadBalancer Service never finish);
- admission webhooks: no pod runs on a kwok node, so a chart's webhook (cert-manager's) can
  never answer and would refuse every object it guards. The lab deletes the webhook
  configurations once they appear; the objects are then admitted as if the webhook had
  allowed them. Everything else the webhooks check is out of the lab's reach (documented in
  tools/lab/README.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tools.lab import binaries


def kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(binaries.ensure_kubectl()), "--kubeconfig", kubeconfig, *args],
                          input=stdin, capture_output=True, text=True, timeout=60)


def load_balancer_patches(services: dict, node_ips: list[str]) -> list[tuple[str, str, dict]]:
    """(namespace, name, status patch) for each LoadBalancer Service without an address."""
    out = []
    for svc in services.get("items", []):
        if svc.get("spec", {}).get("type") != "LoadBalancer":
            continue
        if (svc.get("status", {}).get("loadBalancer") or {}).get("ingress"):
            continue
        meta = svc["metadata"]
        out.append((meta["namespace"], meta["name"],
                    {"status": {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"} for ip in node_ips]}}}))
    return out


def once(kubeconfig: str, node_ips: list[str]) -> None:
    got = kubectl(kubeconfig, "get", "services", "--all-namespaces", "-o", "json")
    if got.returncode == 0:
        for ns, name, patch in load_balancer_patches(json.loads(got.stdout), node_ips):
            kubectl(kubeconfig, "patch", "service", name, "-n", ns, "--subresource=status", "--type=merge",
                    "-p", json.dumps(patch))
    for kind in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"):
        names = kubectl(kubeconfig, "get", kind, "-o", "name")
        for name in names.stdout.split() if names.returncode == 0 else []:
            kubectl(kubeconfig, "delete", name, "--wait=false")


def main(argv: list[str]) -> int:
    kubeconfig, node_ips = argv[0], argv[1:]
    while True:
        once(kubeconfig, node_ips)
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
