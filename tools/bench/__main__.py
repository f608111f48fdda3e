"""`python -m tools.bench [--tenants 10,100,1000]` (or `./run bench`): measure the offline
plan (what and why: ADR 0008) and write BENCHMARKS.md.

Measured, in one run:
  1. program evaluation time under mocks (`tools.imitations.harness.run_stack`), dev and prod, median of 5;
  2. scaling with tenants: prod with N synthetic tenants (default N = 10, 100, 1000), each N
     twice in a fresh process (`tools.bench.child`): program evaluation alone, and the whole
     plan (`python -m tools.plan`: evaluation, schema validation, policies through the
     analyzer, rbac.md, files, diagram) — time, time per resource, the plan's stage times,
     peak RSS of each; the ratios plan/evaluation and per-resource(largest N)/per-resource(100);
  3. policy throughput through the analyzer's gRPC interface as the engine calls it (one
     Analyze per resource, then AnalyzeStack; `tools.imitations.policy_runner.check_resources`, prod
     policy config), on prod and on the largest N's plan, without and with the analyzer's start;
  4. critical path: longest dependsOn chain of prod's custom resources (`tools.bench.graph`);
  5. tracemalloc peak of one prod evaluation.
`--tenants` picks the tenant counts (the 1000-tenant runs take minutes on a 2-core machine);
`--profile` prints a cProfile of one whole plan at the largest N instead.
`--engine` measures the real `pulumi preview` instead (tools/bench/engine.py: floor, program,
pack overhead, plan/preview per tenant count) and writes only its own section of BENCHMARKS.md.
The policy throughput of 3. has no target any more (issue 30 retired 1,500 resources/s: what a
user waits for is the preview, measured by `--engine`); it stays as a regression guard of the
pack in isolation, which uses pulumi-policy's public API only.
Wall-clock figures are `time.perf_counter` on this machine; compare ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml

from components import safe_yaml
from tools.bench import engine, engine_calls
from tools.bench.engine import ENGINE_TENANTS
from tools.bench.graph import critical_path
from tools.imitations import policy_runner
from tools.imitations.harness import run_stack
from tools.paths import ROOT
from tools.plan import render
from tools.plan.build import policy_resources as plan_policy_resources

RUNS = 5
TENANT_COUNTS = (10, 100, 1000)
REFERENCE_TENANTS = 100  # per-resource costs are compared with this count's
COMMAND = "./run bench"  # = python -m tools.bench, from the repo root
# Targets (issue 14): whole plan per resource vs evaluation alone at the reference count;
# plan per resource at the largest count vs the reference; peak RSS plan vs evaluation at the
# largest count. Policy throughput has no target (see the docstring).
PLAN_OVER_EVAL = 2.0
LINEAR = 1.2
RSS_OVER_EVAL = 2.0
POLICY_RUNS = 3  # policy throughput at the largest count: the median of this many runs


# --- inputs -------------------------------------------------------------------------------


def tenant_config(n: int) -> dict:
    """Pulumi.prod.yaml with its tenants replaced by t0001..tNNNN, one host each, no sampleApp,
    and its people by the PlatOps people plus one AppOps person per tenant."""
    doc = safe_yaml.load((ROOT / "Pulumi.prod.yaml").read_text(), source="Pulumi.prod.yaml")
    domain = doc["config"]["k3s-platform:domain"]
    doc["config"]["k3s-platform:tenants"] = [
        {"name": f"t{i:04d}", "hosts": [f"t{i:04d}.{domain}"]} for i in range(1, n + 1)
    ]
    platops = [p for p in doc["config"].get("k3s-platform:people", []) if p["role"] == "platops"]
    doc["config"]["k3s-platform:people"] = platops + [
        {"name": f"dev{i:04d}", "role": "appops", "tenants": [f"t{i:04d}"]} for i in range(1, n + 1)]
    return doc


def write_tenant_config(directory: Path, n: int) -> Path:
    path = directory / f"Pulumi.tenants{n}.yaml"
    path.write_text(yaml.safe_dump(tenant_config(n), sort_keys=False))
    return path


def policy_resources(run) -> list[dict]:
    """The analyzer's view of a run, built as tools/plan/build.check_policies does."""
    return plan_policy_resources(render.resources(run))


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


def child_run(mode: str, config_file: Path, out: Path) -> dict:
    """One `tools.bench.child` run: its JSON result, stage lines, peak RSS (MiB) and CPU
    seconds (user + system) of the process and its children (the analyzer, dot)."""
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "tools.bench.child", mode, str(config_file), str(out)],
                                cwd=ROOT, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        out_text, err_text = stdout.read().decode(), stderr.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"tools.bench.child {mode} {config_file.name} exited {proc.returncode}:\n{err_text[-3000:]}")
    result = json.loads(out_text.strip().splitlines()[-1])
    result["rss_mib"] = usage.ru_maxrss / 1024  # Linux: KiB
    result["cpu_s"] = usage.ru_utime + usage.ru_stime  # the analyzer's and dot's included
    result["stages"] = stage_seconds(err_text)
    return result


def stage_seconds(stderr_text: str) -> dict[str, float]:
    """{stage: seconds} from the plan's `plan: <stage>: <counts> in <s> s` lines."""
    stages = {}
    for line in stderr_text.splitlines():
        if line.startswith("plan: ") and line.endswith(" s"):
            _, stage, rest = line.split(": ", 2)
            stages[stage] = float(rest.rsplit(" in ", 1)[1][:-2])
    return stages


def scaling(directory: Path, counts: tuple[int, ...]) -> list[dict]:
    """Per tenant count: evaluation alone and the whole plan, each in a fresh process."""
    rows = []
    for n in counts:
        config = write_tenant_config(directory, n)
        ev = child_run("eval", config, directory / f"eval{n}")
        plan = child_run("plan", config, directory / f"plan{n}")
        count = plan["registrations"]
        rows.append({"tenants": n, "resources": count, "eval_s": ev["seconds"], "plan_s": plan["seconds"],
                     "eval_ms": 1000 * ev["seconds"] / count, "plan_ms": 1000 * plan["seconds"] / count,
                     "plan_over_eval": plan["seconds"] / ev["seconds"], "stages": plan["stages"],
                     "eval_cpu": ev["cpu_s"], "plan_cpu": plan["cpu_s"], "cpu_over_eval": plan["cpu_s"] / ev["cpu_s"],
                     "eval_rss": ev["rss_mib"], "plan_rss": plan["rss_mib"],
                     "summary": directory / f"plan{n}" / "summary.json"})
        print(f"bench: {n} tenants, {count} resources: evaluation {ev['seconds']:.1f} s ({ev['cpu_s']:.1f} CPU), "
              f"plan {plan['seconds']:.1f} s ({plan['cpu_s']:.1f} CPU), load {os.getloadavg()[0]:.1f}", file=sys.stderr)
    return rows


def ratios(rows: list[dict]) -> dict:
    by_n = {r["tenants"]: r for r in rows}
    ref = by_n.get(REFERENCE_TENANTS, rows[0])
    big = rows[-1]
    return {"ref": ref["tenants"], "big": big["tenants"],
            "plan_over_eval_ref": ref["plan_over_eval"], "cpu_over_eval_ref": ref["cpu_over_eval"],
            "plan_linear": big["plan_ms"] / ref["plan_ms"], "eval_linear": big["eval_ms"] / ref["eval_ms"],
            "plan_linear_cpu": (big["plan_cpu"] / big["resources"]) / (ref["plan_cpu"] / ref["resources"]),
            "eval_linear_cpu": (big["eval_cpu"] / big["resources"]) / (ref["eval_cpu"] / ref["resources"]),
            "rss_over_eval": big["plan_rss"] / big["eval_rss"]}


def _median_run(runs: int, measure) -> dict:
    """The run with the median resources/s out of `runs` runs of `measure()`."""
    results = sorted((measure() for _ in range(runs)), key=lambda r: r["per_second"])
    return results[len(results) // 2]


def policy_throughput(label: str, resources: list[dict], runs: int = 1) -> dict:
    """Resources/second as the plan calls the pack (check_resources: Analyze calls 32 in flight,
    then AnalyzeStack; prod policy config), and with the analyzer's start (process,
    GetAnalyzerInfo, Configure); the median of `runs` runs."""
    def once() -> dict:
        phases: dict[str, float] = {}
        seconds, violations = timed(policy_runner.check_resources, resources, stack="prod", timings=phases)
        checking = phases["analyze"] + phases["stack"]
        return {"label": label, "resources": len(resources), "start": phases["start"], "analyze": phases["analyze"],
                "stack": phases["stack"], "per_second": len(resources) / checking,
                "per_cpu_second": len(resources) / phases["analyzer_cpu"] if phases.get("analyzer_cpu") else 0.0,
                "per_second_with_start": len(resources) / seconds, "violations": len(violations)}
    return _median_run(runs, once)


def preview_throughput(label: str, resources: list[dict], stack_doc: dict, driver: Path | None,
                       runs: int = 1) -> dict:
    """Resources/second as a preview calls the pack (tools.bench.engine_calls), beside the floor
    of the same calls; the median of `runs` runs."""
    def once() -> dict:
        m = engine_calls.measure(resources, stack_doc=stack_doc, driver=driver)
        return {"label": label, "resources": len(resources), "client": m["client"],
                "per_second": m["pack"]["per_second"], "pack": m["pack"], "floor": m["floor"]}
    return _median_run(runs, once)


def profile_hotspots(config_file: Path, out: Path, top: int = 25) -> str:
    """cProfile of one whole plan in this process (the analyzer runs in its own): the top
    functions by cumulative and by own time, as pstats text."""
    from tools.plan.build import build_plan

    profiler = cProfile.Profile()
    plan = profiler.runcall(build_plan, "prod", config_file)
    profiler.runcall(plan.write, out)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("cumulative")
    stats.print_stats(top)
    text.write("\n--- by own time ---\n")
    stats.sort_stats("tottime").print_stats(top)
    return text.getvalue()


def peak_memory(stack: str) -> float:
    """tracemalloc peak (MiB) of Python allocations during one evaluation of `stack`."""
    tracemalloc.start()
    try:
        run_stack(stack)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


# --- report -------------------------------------------------------------------------------


def machine() -> dict:
    return {"arch": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")}


def _verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def report(m: dict, evals: list[dict], rows: list[dict], rt: dict, policies: list[dict], previews: list[dict],
           path: dict, prod_peak: float, total: float, load: tuple[float, float]) -> str:
    stage_names = ["stack evaluated", "objects validated", "policies checked", "files rendered", "files written"]
    lines = ["# Benchmarks", "",
             "Offline plan under Pulumi mocks (what and why: ADR 0008). Wall-clock figures depend on the machine;",
             "the ratios, measured in one run, are what to compare.", "",
             f"Machine: `{m['arch']}`, {m['cpus']} CPUs, Python {m['python']}; run {m['date']}; "
             f"load average {load[0]:.1f} at the start, {load[1]:.1f} at the end"
             + (" (the CPUs were shared with other work: the seconds are inflated, the ratios less so)."
                if max(load) > (m["cpus"] or 1) else "."), "",
             f"Command: `{COMMAND}` (from the repo root; `--tenants 10,100` for a shorter run).", "",
             f"## Program evaluation (median of {RUNS})", "",
             "| stack | resources | median s | min s | max s |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {e['stack']} | {e['resources']} | {e['median']:.3f} | {e['min']:.3f} | {e['max']:.3f} |"
              for e in evals]
    lines += ["", "## Whole plan beside program evaluation (prod + N tenants, each run in a fresh process)", "",
              "| tenants | resources | evaluation s | ms / res | whole plan s | ms / res | plan / evaluation "
              "| evaluation CPU s | plan CPU s | plan / evaluation (CPU) |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['tenants']} | {r['resources']} | {r['eval_s']:.2f} | {r['eval_ms']:.2f} | {r['plan_s']:.2f} | "
              f"{r['plan_ms']:.2f} | {r['plan_over_eval']:.2f} | {r['eval_cpu']:.2f} | {r['plan_cpu']:.2f} | "
              f"{r['cpu_over_eval']:.2f} |" for r in rows]
    lines += ["", "Wall time is what a user waits; CPU time (user + system, the plan's analyzer and Graphviz",
              "included) is what the run costs and moves less with other load on the machine.", "",
              f"- whole plan / evaluation at {rt['ref']} tenants: {rt['plan_over_eval_ref']:.2f} wall, "
              f"{rt['cpu_over_eval_ref']:.2f} CPU ({_verdict(rt['plan_over_eval_ref'] <= PLAN_OVER_EVAL)} / "
              f"{_verdict(rt['cpu_over_eval_ref'] <= PLAN_OVER_EVAL)} the {PLAN_OVER_EVAL:g}x target);",
              f"- whole plan per resource, {rt['big']} / {rt['ref']} tenants: {rt['plan_linear']:.2f} wall, "
              f"{rt['plan_linear_cpu']:.2f} CPU ({_verdict(rt['plan_linear'] <= LINEAR)} / "
              f"{_verdict(rt['plan_linear_cpu'] <= LINEAR)} the {LINEAR:g}x target for linear); "
              f"evaluation alone: {rt['eval_linear']:.2f} wall, {rt['eval_linear_cpu']:.2f} CPU.",
              "", "The plan's stages (seconds, from its progress lines; evaluation included in the plan's own process):", "",
              "| tenants | " + " | ".join(stage_names) + " |", "|---:|" + "---:|" * len(stage_names)]
    lines += [f"| {r['tenants']} | " + " | ".join(f"{r['stages'].get(s, 0):.1f}" for s in stage_names) + " |"
              for r in rows]
    lines += ["", "## Memory (peak RSS, MiB, of the run's process and its children)", "",
              "| tenants | evaluation alone | whole plan | plan / evaluation |", "|---:|---:|---:|---:|"]
    lines += [f"| {r['tenants']} | {r['eval_rss']:.0f} | {r['plan_rss']:.0f} | {r['plan_rss'] / r['eval_rss']:.2f} |"
              for r in rows]
    lines += ["", f"At {rt['big']} tenants: {rt['rss_over_eval']:.2f} "
              f"({_verdict(rt['rss_over_eval'] <= RSS_OVER_EVAL)} the {RSS_OVER_EVAL:g}x target). "
              f"tracemalloc peak of one prod evaluation: {prod_peak:.1f} MiB.",
              ""]
    lines += policy_lines(policies, previews)
    lines += ["", "## Critical path (prod, custom resources, dependsOn = explicit + property deps)", "",
              f"{path['length']} resources long out of {path['custom_resources']}; "
              f"{path['remote_steps']} remote steps (`command:remote:*`).", "",
              "| # | name | type |", "|---:|---|---|"]
    lines += [f"| {i} | {n} | `{t}` |" for i, (n, t) in enumerate(zip(path["names"], path["types"]), 1)]
    wp = path["with_providers"]
    lines += ["", "dependsOn leaves out the wait on an explicit provider (Kubernetes objects and charts wait for",
              f"`k3s-cluster-provider`, which depends on the kubeconfig read-back). Counting provider edges too: "
              f"{wp['length']} resources, {wp['remote_steps']} remote steps:", "",
              " -> ".join(wp["names"])]
    lines += ["", f"Whole bench run: {total:.0f} s. Other processes running at the same time on a 2-core",
              "machine inflate the figures (see the load average above); rerun on an idle machine to compare."]
    return "\n".join(lines) + "\n"


def policy_lines(policies: list[dict], previews: list[dict]) -> list[str]:
    """The policy throughput section: as a preview calls the pack (the target's measure), then
    as the plan calls it."""
    big = previews[-1]
    floor = big["floor"]["per_second"]
    lines = ["## Policy throughput (prod policy config)", "",
             "### As a preview calls the pack", "",
             "The engine's calls in the engine's order: for each resource `Remediate`, then `Analyze`, one "
             "resource at a time; then one `AnalyzeStack`; the analyzer started with the stack's config in its "
             f"environment, as the engine starts it (`tools/bench/engine_calls.py`). Client: {big['client']}. "
             "The floor is the same calls answered at once by an analyzer that does nothing, served as "
             "pulumi-policy serves the pack: what the gRPC conversation alone costs"
             + (f" (median of {POLICY_RUNS} runs at the largest count)." if len(previews) > 1 else "."), "",
             "| input | resources | Remediate + Analyze s | AnalyzeStack s | resources / s | per analyzer CPU s "
             "| floor: resources / s | pack / floor | violations |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {p['label']} | {p['resources']} | {p['pack']['per_resource']:.2f} | {p['pack']['stack']:.2f} | "
              f"{p['per_second']:.0f} | {p['pack']['per_cpu_second']:.0f} | {p['floor']['per_second']:.0f} | "
              f"{p['per_second'] / p['floor']['per_second']:.2f} | {p['pack']['diagnostics']} |" for p in previews]
    lines += ["", f"{big['label']}: {big['per_second']:.0f} resources/s, {big['per_second'] / floor:.2f} of the "
              f"floor ({floor:.0f} resources/s). No target: a regression guard of the pack in isolation "
              "(the 1,500 resources/s target is retired; what the pack adds to a real preview is measured "
              "by `./run bench --engine`).",
              "", "### As the plan calls the pack", "",
              "`./run plan` sends the Analyze calls 32 at a time and no Remediate, then AnalyzeStack (Python client)"
              + (f"; median of {POLICY_RUNS} runs at the largest count." if len(policies) > 1 else "."), "",
              "| input | resources | analyzer start s | Analyze s | AnalyzeStack s | resources / s | "
              "with start | per analyzer CPU s | violations |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {p['label']} | {p['resources']} | {p['start']:.2f} | {p['analyze']:.2f} | {p['stack']:.2f} | "
              f"{p['per_second']:.0f} | {p['per_second_with_start']:.0f} | {p['per_cpu_second']:.0f} | "
              f"{p['violations']} |" for p in policies]
    lines += ["", "resources / s: the calls' wall time; with start: the analyzer's process start, GetAnalyzerInfo "
              "and Configure included; per analyzer CPU s: the analyzer process's own CPU time for the same calls "
              "(moves least with machine load)."]
    return lines


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", default=",".join(map(str, TENANT_COUNTS)),
                        help="comma-separated tenant counts (default: %(default)s)")
    parser.add_argument("--profile", action="store_true",
                        help="print a cProfile of one whole plan at the largest count, write nothing")
    parser.add_argument("--engine", action="store_true",
                        help="measure the real preview (floor, program, pack, plan) instead; needs ./run engine build")
    parser.add_argument("--engine-tenants", default=",".join(map(str, ENGINE_TENANTS)),
                        help="tenant counts of --engine (default: %(default)s)")
    parser.add_argument("--engine-1000", action="store_true",
                        help="with --engine, also measure 1000 tenants on the engine (hours) instead of "
                             "extrapolating its times")
    parser.add_argument("--engine-profile", action="store_true",
                        help="with --engine, profile the CLI on the floor and the program at the largest count")
    parser.add_argument("--no-write", action="store_true", help="with --engine, print only, leave BENCHMARKS.md")
    parser.add_argument("--engine-rewrite", action="store_true",
                        help="rewrite the --engine section from the last run's figures (engine-out/bench-engine.json)")
    args = parser.parse_args(argv)
    try:
        args.engine_tenants = tuple(sorted({int(n) for n in args.engine_tenants.split(",") if n.strip()}))
    except ValueError:
        parser.error(f"--engine-tenants: {args.engine_tenants!r} is not a comma-separated list of numbers")
    if not args.engine_tenants or min(args.engine_tenants) < 1:
        parser.error("--engine-tenants: give at least one count, each 1 or more")
    try:
        args.tenants = tuple(sorted({int(n) for n in args.tenants.split(",") if n.strip()}))
    except ValueError:
        parser.error(f"--tenants: {args.tenants!r} is not a comma-separated list of numbers")
    if not args.tenants or min(args.tenants) < 1:
        parser.error("--tenants: give at least one count, each 1 or more")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.engine_rewrite:
        return engine.rewrite()
    if args.engine:
        return engine.main(args.engine_tenants, args.engine_1000, args.engine_profile, write=not args.no_write)
    if args.profile:
        with tempfile.TemporaryDirectory() as tmp:
            print(profile_hotspots(write_tenant_config(Path(tmp), args.tenants[-1]), Path(tmp) / "plan"))
        return 0
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    m = machine()
    evals = [eval_time("dev"), eval_time("prod")]
    prod_run = run_stack("prod")
    prod_resources = policy_resources(prod_run)
    driver = engine_calls.driver_path()
    policies = [policy_throughput("prod", prod_resources)]
    previews = [preview_throughput("prod", prod_resources, safe_yaml.load(
        (ROOT / "Pulumi.prod.yaml").read_text(), source="Pulumi.prod.yaml"), driver)]
    with tempfile.TemporaryDirectory() as tmp:
        rows = scaling(Path(tmp), args.tenants)
        big = rows[-1]
        big_resources = plan_policy_resources(json.loads(big["summary"].read_text())["resources"])
        label = f"prod + {big['tenants']} tenants"
        policies.append(policy_throughput(label, big_resources, POLICY_RUNS))
        previews.append(preview_throughput(label, big_resources, tenant_config(big["tenants"]), driver, POLICY_RUNS))
        del big_resources
    rt = ratios(rows)
    path = critical_path(render.resources(prod_run))
    path["with_providers"] = critical_path(render.resources(prod_run), provider_edges=True)
    prod_peak = peak_memory("prod")
    total = time.perf_counter() - started
    bench_file = ROOT / "BENCHMARKS.md"
    bench_file.write_text(
        report(m, evals, rows, rt, policies, previews, path, prod_peak, total, (load_start, os.getloadavg()[0]))
        + kept_sections(bench_file))
    print(f"bench ({total:.0f}s): dev {evals[0]['median']:.2f}s prod {evals[1]['median']:.2f}s; "
          f"plan/evaluation at {rt['ref']} tenants x{rt['plan_over_eval_ref']:.2f}; "
          f"plan per-resource {rt['big']}/{rt['ref']} x{rt['plan_linear']:.2f}; "
          f"RSS plan/evaluation at {rt['big']} x{rt['rss_over_eval']:.2f}; "
          f"policies {previews[-1]['per_second']:.0f} res/s as a preview calls them "
          f"(floor {previews[-1]['floor']['per_second']:.0f}), {policies[-1]['per_second']:.0f} as the plan does; critical path {path['length']} "
          f"({path['remote_steps']} remote) -> BENCHMARKS.md")
    return 0


# Sections of BENCHMARKS.md measured by other commands (`--engine`, the engine and lab builds): a
# bench run keeps them as they are, from the first of these headings to the end.
KEPT_FROM = "## Builds of the engine and the lab"


def kept_sections(path: Path) -> str:
    text = path.read_text() if path.is_file() else ""
    found = [at for at in (text.find(engine.SECTION), text.find(KEPT_FROM)) if at >= 0]
    return "\n" + text[min(found):] if found else ""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
