"""`python -m tools.bench`: measure the offline plan (DESIGN.md §6) and write BENCHMARKS.md.

Measured, in one run:
  1. program evaluation time under mocks (`tools.harness.run_stack`), dev and prod, median of 5;
  2. scaling with tenants: prod with N synthetic tenants (N = 10, 100, 1000) — resources,
     time, time per resource, and the 1000/100 ratios; cProfile of the 1000 run if the
     per-resource time grows more than 1.5x (skipped, with a note, if it would push the run past
     BUDGET seconds; `python -m tools.bench --profile` profiles the 1000-tenant run alone);
  3. policy throughput: resources/second through `tools.policy_runner.check_resources`
     (analyzer process start included; its start-up alone is shown separately);
  4. critical path: longest dependsOn chain of prod's custom resources (`tools.bench.graph`);
  5. peak memory: tracemalloc peak of one prod evaluation, and the process's max RSS.
Wall-clock figures are `time.perf_counter` on this machine; compare ratios, not absolutes.
"""

from __future__ import annotations

import cProfile
import datetime
import io
import os
import platform
import pstats
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml

from components import safe_yaml
from tools import policy_runner
from tools.bench.graph import critical_path
from tools.harness import ROOT, run_stack
from tools.plan import render

RUNS = 5
TENANT_COUNTS = (10, 100, 1000)
SUPERLINEAR = 1.5
COMMAND = "/work/venv/bin/python -m tools.bench"
BUDGET = 280.0  # seconds: the whole run must stay under 5 minutes on a 2-core machine
PROFILE_OVERHEAD = 2.0  # cProfile roughly doubles the evaluation time


# --- inputs -------------------------------------------------------------------------------


def tenant_config(n: int) -> dict:
    """Pulumi.prod.yaml with its tenants replaced by t0001..tNNNN, one host each, no sampleApp."""
    doc = safe_yaml.load((ROOT / "Pulumi.prod.yaml").read_text(), source="Pulumi.prod.yaml")
    domain = doc["config"]["k3s-platform:domain"]
    doc["config"]["k3s-platform:tenants"] = [
        {"name": f"t{i:04d}", "hosts": [f"t{i:04d}.{domain}"]} for i in range(1, n + 1)
    ]
    return doc


def write_tenant_config(directory: Path, n: int) -> Path:
    path = directory / f"Pulumi.tenants{n}.yaml"
    path.write_text(yaml.safe_dump(tenant_config(n), sort_keys=False))
    return path


def policy_resources(run) -> list[dict]:
    """The analyzer's view of a run, built as tools/plan/build.check_policies does."""
    return [
        {"urn": r["urn"], "type": r["type"], "name": r["name"], "properties": r["inputs"],
         "parent": r["parent"], "dependencies": r["dependsOn"], "provider": r["provider"]}
        for r in render.resources(run) if not r["type"].startswith("k3s-platform:")
    ]


# --- measurements -------------------------------------------------------------------------


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def eval_time(stack: str, runs: int = RUNS) -> dict:
    """Median wall time of `run_stack(stack)` over `runs` runs (after one warm-up run)."""
    run_stack(stack)  # warm-up: imports, provider SDK modules
    times = []
    for _ in range(runs):
        seconds, run = timed(run_stack, stack)
        times.append(seconds)
    return {"stack": stack, "median": statistics.median(times), "min": min(times),
            "max": max(times), "resources": len(run.registrations)}


def scaling(directory: Path) -> tuple[list[dict], dict]:
    """One evaluation per tenant count; returns rows and the 1000-tenant run (for policies)."""
    rows, runs = [], {}
    for n in TENANT_COUNTS:
        seconds, run = timed(run_stack, "prod", write_tenant_config(directory, n))
        count = len(run.registrations)
        rows.append({"tenants": n, "resources": count, "seconds": seconds,
                     "per_resource_ms": 1000 * seconds / count})
        runs[n] = run
    return rows, runs[TENANT_COUNTS[-1]]


def profile_hotspots(config_file: Path, top: int = 15) -> str:
    """cProfile of one evaluation: the top functions by own time, as pstats text."""
    profiler = cProfile.Profile()
    profiler.runcall(run_stack, "prod", config_file)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime")
    stats.print_stats(top)
    out.write("\n--- by cumulative time ---\n")
    stats.sort_stats("cumulative").print_stats(top + 10)
    return out.getvalue()


def policy_throughput(label: str, run) -> dict:
    """Resources/second through check_resources (stack config of prod), analyzer start included."""
    resources = policy_resources(run)
    seconds, violations = timed(policy_runner.check_resources, resources, stack="prod")
    return {"label": label, "resources": len(resources), "seconds": seconds,
            "per_second": len(resources) / seconds, "violations": len(violations)}


def policy_startup(run) -> float:
    """Wall time of check_resources on a single resource: roughly the analyzer's fixed cost."""
    seconds, _ = timed(policy_runner.check_resources, policy_resources(run)[:1], stack="prod")
    return seconds


def peak_memory(stack: str) -> float:
    """tracemalloc peak (MiB) of Python allocations during one evaluation of `stack`."""
    tracemalloc.start()
    try:
        run_stack(stack)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# --- report -------------------------------------------------------------------------------


def machine() -> dict:
    return {"arch": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")}


def report(m: dict, evals: list[dict], rows: list[dict], ratios: dict, policies: list[dict],
           startup: float, path: dict, memory: dict, hotspots: str | None, total: float) -> str:
    lines = ["# Benchmarks", "",
             "Offline plan under Pulumi mocks (DESIGN.md §6). Wall-clock figures depend on the machine;",
             "the ratios are what to compare.", "",
             f"Machine: `{m['arch']}`, {m['cpus']} CPUs, Python {m['python']}; run {m['date']}.", "",
             f"Command: `{COMMAND}` (from the repo root).", "",
             f"## Program evaluation (median of {RUNS})", "",
             "| stack | resources | median s | min s | max s |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {e['stack']} | {e['resources']} | {e['median']:.3f} | {e['min']:.3f} | {e['max']:.3f} |"
              for e in evals]
    lines += ["", "## Scaling with tenants (prod + N tenants, one run each)", "",
              "| tenants | resources | s | ms / resource |", "|---:|---:|---:|---:|"]
    lines += [f"| {r['tenants']} | {r['resources']} | {r['seconds']:.2f} | {r['per_resource_ms']:.2f} |"
              for r in rows]
    lines += ["", f"time(1000)/time(100) = {ratios['time']:.2f}; "
              f"per-resource(1000)/per-resource(100) = {ratios['per_resource']:.2f} "
              f"({'super-linear' if ratios['superlinear'] else 'linear'}; threshold {SUPERLINEAR}x).",
              "", "## Policy throughput (`tools.policy_runner.check_resources`, prod policy config)", "",
              "| input | resources | s | resources / s | violations |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {p['label']} | {p['resources']} | {p['seconds']:.2f} | {p['per_second']:.0f} | {p['violations']} |"
              for p in policies]
    lines += ["", f"Analyzer fixed cost (one resource): {startup:.2f} s, included above.", "",
              "## Critical path (prod, custom resources, dependsOn = explicit + property deps)", "",
              f"{path['length']} resources long out of {path['custom_resources']}; "
              f"{path['remote_steps']} remote steps (`command:remote:*`).", "",
              "| # | name | type |", "|---:|---|---|"]
    lines += [f"| {i} | {n} | `{t}` |" for i, (n, t) in enumerate(zip(path["names"], path["types"]), 1)]
    wp = path["with_providers"]
    lines += ["", "dependsOn leaves out the wait on an explicit provider (Kubernetes objects and charts wait for",
              f"`k3s-cluster-provider`, which depends on the kubeconfig read-back). Counting provider edges too: "
              f"{wp['length']} resources, {wp['remote_steps']} remote steps:", "",
              " -> ".join(wp["names"])]
    lines += ["", "## Memory", "",
              "| measure | MiB |", "|---|---:|",
              f"| tracemalloc peak, one prod evaluation | {memory['prod_peak']:.1f} |",
              f"| max RSS of the whole bench process (incl. 1000 tenants) | {memory['max_rss']:.1f} |"]
    if hotspots:
        lines += ["", "## Profile of the 1000-tenant evaluation (super-linear)", "", "```", hotspots.strip(), "```"]
    lines += ["", f"Whole bench run: {total:.0f} s. Other processes running at the same time on a 2-core",
              "machine inflate the figures; rerun on an idle machine to compare."]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if argv == ["--profile"]:
        with tempfile.TemporaryDirectory() as tmp:
            print(profile_hotspots(write_tenant_config(Path(tmp), TENANT_COUNTS[-1])))
        return 0
    if argv:
        print("usage: python -m tools.bench [--profile]", file=sys.stderr)
        return 2
    started = time.perf_counter()
    m = machine()
    evals = [eval_time("dev"), eval_time("prod")]
    prod_run = run_stack("prod")
    with tempfile.TemporaryDirectory() as tmp:
        rows, big_run = scaling(Path(tmp))
    by_n = {r["tenants"]: r for r in rows}
    ratios = {"time": by_n[1000]["seconds"] / by_n[100]["seconds"],
              "per_resource": by_n[1000]["per_resource_ms"] / by_n[100]["per_resource_ms"]}
    ratios["superlinear"] = ratios["per_resource"] > SUPERLINEAR
    policies = [policy_throughput("prod", prod_run), policy_throughput("prod + 1000 tenants", big_run)]
    startup = policy_startup(prod_run)
    path = critical_path(render.resources(prod_run))
    path["with_providers"] = critical_path(render.resources(prod_run), provider_edges=True)
    del big_run
    memory = {"prod_peak": peak_memory("prod"), "max_rss": max_rss_mib()}
    hotspots = None
    if ratios["superlinear"]:
        projected = time.perf_counter() - started + PROFILE_OVERHEAD * by_n[1000]["seconds"]
        if projected < BUDGET:
            with tempfile.TemporaryDirectory() as tmp:
                hotspots = profile_hotspots(write_tenant_config(Path(tmp), TENANT_COUNTS[-1]))
        else:
            hotspots = (f"skipped: would take the run to ~{projected:.0f} s (budget {BUDGET:.0f} s); "
                        f"run `{COMMAND} --profile`")
    total = time.perf_counter() - started
    (ROOT / "BENCHMARKS.md").write_text(
        report(m, evals, rows, ratios, policies, startup, path, memory, hotspots, total))
    if hotspots:
        print(hotspots, file=sys.stderr)
    print(f"bench ({total:.0f}s): dev {evals[0]['median']:.2f}s prod {evals[1]['median']:.2f}s; "
          f"tenants 1000/100 time x{ratios['time']:.1f}, per-resource x{ratios['per_resource']:.2f}"
          f"{' SUPER-LINEAR' if ratios['superlinear'] else ''}; policies {policies[1]['per_second']:.0f} res/s; "
          f"critical path {path['length']} ({path['remote_steps']} remote); "
          f"peak {memory['prod_peak']:.0f} MiB traced, {memory['max_rss']:.0f} MiB RSS -> BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
