"""One real `pulumi preview` in its own process, for `./run bench --engine`:
`python -m tools.bench.engine_child MODE CONFIG_FILE WORK_DIR [--profile PREFIX] [--skip-checkpoints]`.

MODE is `program` (the project's program with the pack), `program-nopack` (the same without the
pack) or `floor:<count>` (an inline program registering <count> `kubernetes:core/v1:ConfigMap`
on one kubernetes provider with `renderYamlToDirectory`: no cluster, no pack, no other
provider). All three go through the same CLI build, file backend and inline host
(tools/engine/inline.py's EngineStack) with the same stack config (CONFIG_FILE), in a new
stack: the first preview of it. `--profile PREFIX` runs the CLI with its `--profiling PREFIX`
flag (CPU profile `PREFIX.<pid>.cpu`, heap `.mem`, execution trace `.trace`);
`--skip-checkpoints` sets PULUMI_SKIP_CHECKPOINTS=true for the CLI (the snapshot manager then
serialises the snapshot once, at the end, instead of after every step).

Prints one JSON line: the preview's wall seconds, its resource steps, the CPU seconds of this
process and its descendants during the preview, and the peak RSS (MiB) of the CLI, the
provider plugins, the pack and this process (the inline program's host), each the sum of its
processes' high-water marks (VmHWM, sampled from /proc every half second).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tools.engine import inline

SAMPLE_S = 0.5


def floor_program(count: int, out_dir: Path) -> Callable[[], None]:
    """`count` ConfigMaps on one kubernetes provider that renders YAML instead of calling a cluster."""
    def run() -> None:
        import pulumi
        import pulumi_kubernetes as k8s

        provider = k8s.Provider("floor", render_yaml_to_directory=str(out_dir))
        opts = pulumi.ResourceOptions(provider=provider)
        for i in range(count):
            name = f"floor-{i:05d}"
            k8s.core.v1.ConfigMap(name, metadata={"name": name, "namespace": "default"},
                                  data={"key": "value"}, opts=opts)
    return run


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2:].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _part(pid: int) -> str | None:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    exe = os.path.basename(cmdline[0].decode(errors="replace")) if cmdline and cmdline[0] else ""
    if exe.startswith("pulumi-resource-"):
        return "providers"
    if exe == "pulumi":
        return "cli"
    if b"pulumi.policy" in cmdline:
        return "pack"
    return "other"


def _hwm_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class MemorySampler(threading.Thread):
    """Peak RSS of this process's descendants by part, sampled until `stop()`."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peaks: dict[int, tuple[str, float]] = {}
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(SAMPLE_S):
            self.sample()

    def sample(self) -> None:
        tree, todo = _children(), [os.getpid()]
        while todo:
            pid = todo.pop()
            todo.extend(tree.get(pid, []))
            part = "host" if pid == os.getpid() else self.peaks.get(pid, (None, 0.0))[0] or _part(pid)
            if part is None:
                continue
            self.peaks[pid] = (part, max(self.peaks.get(pid, (part, 0.0))[1], _hwm_mib(pid)))

    def stop(self) -> dict[str, float]:
        self.sample()
        self._done.set()
        self.join()
        out: dict[str, float] = {}
        for part, mib in self.peaks.values():
            out[part] = out.get(part, 0.0) + mib
        return out


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def profiling_cli(prefix: str) -> None:
    """Make EngineStack drive the CLI through a wrapper that adds `--profiling PREFIX`."""
    real = inline.cli_dir

    def cli_dir(bins: Path) -> Path:
        folder = real(bins)
        wrapped = Path(prefix).parent / "cli" / "bin"
        wrapped.mkdir(parents=True, exist_ok=True)
        for entry in folder.iterdir():
            if entry.name != "pulumi" and not (wrapped / entry.name).exists():
                (wrapped / entry.name).symlink_to(entry)
        script = wrapped / "pulumi"
        script.write_text(f"#!/bin/sh\nexec '{folder / 'pulumi'}' --profiling '{prefix}' \"$@\"\n")
        script.chmod(0o755)
        return wrapped

    inline.cli_dir = cli_dir  # this process only: one profiled preview


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tools.bench.engine_child")
    parser.add_argument("mode")
    parser.add_argument("config_file", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--profile", metavar="PREFIX")
    parser.add_argument("--skip-checkpoints", action="store_true")
    args = parser.parse_args(argv)
    mode, config_file, work = args.mode, args.config_file, args.work
    if args.profile:
        profiling_cli(args.profile)
    program = None
    pack = mode == "program"
    if mode.startswith("floor:"):
        program = floor_program(int(mode.split(":", 1)[1]), work / "rendered")
    elif mode not in ("program", "program-nopack"):
        print(f"unknown mode {mode!r} (program, program-nopack or floor:<count>)", file=sys.stderr)
        return 2
    stack = inline.EngineStack("prod", work, config_file=config_file, pack=pack, echo=None, program=program)
    if args.skip_checkpoints:
        stack.env["PULUMI_SKIP_CHECKPOINTS"] = "true"  # the preview's CLI inherits the run's environment
    sampler = MemorySampler()
    cpu_before = _cpu()
    sampler.start()
    started = time.perf_counter()
    run = stack.preview()
    seconds = time.perf_counter() - started
    memory = sampler.stop()
    cpu = _cpu() - cpu_before
    violations = len(run.policy_violations("mandatory"))
    print(json.dumps({"mode": mode, "seconds": seconds, "steps": len(run.steps()), "cpu_s": cpu,
                      "rss_mib": memory, "error": run.error, "mandatory_violations": violations,
                      "pack_ran": any("k3s-platform-guardrails" in line for line in run.output)}))
    return 0 if run.error is None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
