"""`./run bench --engine`: the real `pulumi preview` of prod with N tenants, beside its floor,
the same preview without the pack, and the offline plan; written into BENCHMARKS.md.

Per tenant count N (default 2, 10, 100), one after the other in one run, each in a fresh
process (`tools.bench.engine_child`) on a new stack: the program with the pack (its resource
steps are R), the program without the pack, the floor (R - 2 ConfigMaps on one kubernetes
provider with renderYamlToDirectory, so that with the Stack and the provider it takes R steps)
and the offline plan (`tools.bench.child plan`). Printed per count, for scripts:

  tenants N: R resources, floor F s, preview P s, program/floor X.XXx, pack overhead Y.YYx, plan/preview Z.ZZx

At 1,000 tenants (about 19,000 steps) the floor alone would take hours on this machine, so it
runs only with `--engine-1000`; by default that line reports the offline plan, measured, and
the engine's times extrapolated from a fitted curve (t = a + b R + c R^2 over the measured
counts), and ends with `(extrapolated)`. `--engine-profile` runs the floor and the program once
more at the smallest and the largest measured count under the CLI's `--profiling` and prints
the top of each CPU profile (`go tool pprof -top`; the profiles are kept in engine-out/profiles).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.bench.svg_plot import line_plot
from tools.paths import ROOT

ENGINE_TENANTS = (2, 10, 100)
EXTRAPOLATED_TENANTS = 1000
# Targets (issue 30).
PROGRAM_OVER_FLOOR = 1.3
PACK_OVERHEAD = 1.25
PLAN_OVER_PREVIEW = 1.0
SECTION = "## The real preview (`./run bench --engine`)"
PLOT = ROOT / "docs" / "benchmarks-engine.svg"
RESULTS = ROOT / "engine-out" / "bench-engine.json"  # the last run's rows, for `rewrite()`


def tenant_file(directory: Path, n: int) -> Path:
    from tools.bench.__main__ import write_tenant_config

    return write_tenant_config(directory, n)


def engine_run(mode: str, config: Path, work: Path, profile: str | None = None,
               skip_checkpoints: bool = False) -> dict:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    cmd = [sys.executable, "-m", "tools.bench.engine_child", mode, str(config), str(work)]
    if profile:
        cmd += ["--profile", profile]
    if skip_checkpoints:
        cmd += ["--skip-checkpoints"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    lines = out.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"engine_child {mode} exited {out.returncode}:\n{out.stderr[-3000:]}")
    result = json.loads(lines[-1])
    if result["error"]:
        raise RuntimeError(f"engine_child {mode}: the preview failed: {result['error'][-3000:]}")
    return result


def plan_run(config: Path, out: Path) -> dict:
    from tools.bench.__main__ import child_run

    return child_run("plan", config, out)


REPEATS_BELOW = 1000  # counts with fewer steps than this are measured REPEATS times (median)
REPEATS = 3


def _median_of(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def measure(n: int, directory: Path) -> dict:
    """The previews of one count, interleaved: small counts (seconds each, where other load on
    a shared machine moves a single run most) REPEATS times, each figure the median."""
    config = tenant_file(directory, n)
    runs: dict[str, list[dict]] = {k: [] for k in ("program", "nopack", "floor", "plan", "program_nc", "floor_nc")}
    repeats = 1
    rep = 0
    while rep < repeats:
        program = engine_run("program", config, directory / f"program{n}")
        if not program["pack_ran"] or program["mandatory_violations"]:
            raise RuntimeError(f"{n} tenants: the pack did not run or reported mandatory violations")
        if rep == 0 and program["steps"] < REPEATS_BELOW:
            repeats = REPEATS
        floor_mode = f"floor:{program['steps'] - 2}"
        runs["program"].append(program)
        runs["nopack"].append(engine_run("program-nopack", config, directory / f"nopack{n}"))
        runs["floor"].append(engine_run(floor_mode, config, directory / f"floor{n}"))
        runs["plan"].append(plan_run(config, directory / f"plan{n}"))
        # The same preview and floor with PULUMI_SKIP_CHECKPOINTS=true: what the CLI's per-step
        # snapshot serialisation costs (see BENCHMARKS.md, where the engine's time goes).
        runs["program_nc"].append(engine_run("program", config, directory / f"program-nc{n}", skip_checkpoints=True))
        runs["floor_nc"].append(engine_run(floor_mode, config, directory / f"floor-nc{n}", skip_checkpoints=True))
        rep += 1
    m = {k: _median_of(v) for k, v in runs.items()}
    program, nopack, floor, plan = m["program"], m["nopack"], m["floor"], m["plan"]
    row = {"tenants": n, "resources": program["steps"], "floor_steps": floor["steps"], "repeats": repeats,
           "floor": floor["seconds"], "preview": program["seconds"], "nopack": nopack["seconds"],
           "plan": plan["seconds"], "floor_cpu": floor["cpu_s"], "preview_cpu": program["cpu_s"],
           "nopack_cpu": nopack["cpu_s"], "plan_cpu": plan["cpu_s"], "rss": program["rss_mib"],
           "floor_rss": floor["rss_mib"], "load": os.getloadavg()[0], "extrapolated": False,
           "floor_nc": m["floor_nc"]["seconds"], "preview_nc": m["program_nc"]["seconds"]}
    print(line(row), flush=True)
    print(line_nc(row), flush=True)
    return row


def ratios(row: dict) -> dict:
    return {"program_over_floor": row["preview"] / row["floor"], "pack": row["preview"] / row["nopack"],
            "plan_over_preview": row["plan"] / row["preview"]}


def line(row: dict) -> str:
    r = ratios(row)
    text = (f"tenants {row['tenants']}: {row['resources']} resources, floor {row['floor']:.1f} s, "
            f"preview {row['preview']:.1f} s, program/floor {r['program_over_floor']:.2f}x, "
            f"pack overhead {r['pack']:.2f}x, plan/preview {r['plan_over_preview']:.2f}x")
    return text + (" (extrapolated)" if row["extrapolated"] else "")


def line_nc(row: dict) -> str:
    """The skip-checkpoints figures, on a line of their own that the per-count line's readers skip."""
    return (f"skip-checkpoints tenants {row['tenants']}: floor {row['floor_nc']:.1f} s, preview "
            f"{row['preview_nc']:.1f} s, program/floor {row['preview_nc'] / row['floor_nc']:.2f}x, "
            f"preview default/skip {row['preview'] / row['preview_nc']:.2f}x")


# --- the fitted curve ---------------------------------------------------------------------


def fit(xs: list[float], ys: list[float], degree: int) -> list[float]:
    """Least-squares polynomial coefficients (constant first) by the normal equations."""
    size = degree + 1
    a = [[sum(x ** (i + j) for x in xs) for j in range(size)] for i in range(size)]
    b = [sum(y * x ** i for x, y in zip(xs, ys)) for i in range(size)]
    for col in range(size):  # Gauss-Jordan with partial pivoting
        pivot = max(range(col, size), key=lambda r: abs(a[r][col]))
        a[col], a[pivot], b[col], b[pivot] = a[pivot], a[col], b[pivot], b[col]
        for r in range(size):
            if r != col and a[col][col]:
                f = a[r][col] / a[col][col]
                a[r] = [v - f * w for v, w in zip(a[r], a[col])]
                b[r] -= f * b[col]
    return [b[i] / a[i][i] for i in range(size)]


def evaluate(coef: list[float], x: float) -> float:
    return sum(c * x ** i for i, c in enumerate(coef))


def extrapolate(rows: list[dict], n: int, directory: Path) -> dict:
    """The offline plan measured at `n` tenants; the engine's times from the fitted curves."""
    steps = fit([r["tenants"] for r in rows], [r["resources"] for r in rows], 1)  # exactly linear
    resources = round(evaluate(steps, n))
    degree = min(2, len(rows) - 1)
    curves = {k: fit([r["resources"] for r in rows], [r[k] for r in rows], degree)
              for k in ("floor", "preview", "nopack", "floor_nc", "preview_nc")}
    plan = plan_run(tenant_file(directory, n), directory / f"plan{n}")
    row = {"tenants": n, "resources": resources, "plan": plan["seconds"], "plan_cpu": plan["cpu_s"],
           "extrapolated": True, "curves": curves, "load": os.getloadavg()[0],
           **{k: evaluate(c, resources) for k, c in curves.items()}}
    print(line(row), flush=True)
    return row


# --- profiles -----------------------------------------------------------------------------


def profile(n: int, resources: int, directory: Path, top: int = 30) -> dict[str, str]:
    """CPU profiles of the CLI (its --profiling flag) for the floor and the program at n tenants.

    Every CLI command the Automation API runs writes one; the preview's is the largest (the
    others are the short stack and config commands before it): that one is kept and printed."""
    config = tenant_file(directory, n)
    keep = ROOT / "engine-out" / "profiles"
    keep.mkdir(parents=True, exist_ok=True)
    out = {}
    for label, mode in (("floor", f"floor:{resources - 2}"), ("program", "program")):
        folder = directory / f"profile-{label}-{n}"
        folder.mkdir(parents=True, exist_ok=True)
        engine_run(mode, config, directory / f"profiled-{label}-{n}", profile=str(folder / "pulumi"))
        cpu = max(folder.glob("pulumi.*.cpu"), key=lambda p: p.stat().st_size)
        shutil.copy(cpu, keep / f"{label}-{n}-tenants.cpu")
        texts = []
        for extra in ([], ["-cum"]):
            res = subprocess.run(["go", "tool", "pprof", "-top", f"-nodecount={top}", *extra, str(cpu)],
                                 capture_output=True, text=True)
            texts.append(f"# {label}, {n} tenants, pprof -top {' '.join(extra)}\n{res.stdout}{res.stderr[-500:]}")
        out[label] = "\n".join(texts)
        print(f"--- CPU profile of the CLI's preview, {label}, {n} tenants "
              f"(engine-out/profiles/{label}-{n}-tenants.cpu) ---\n" + out[label], flush=True)
    return out


# --- report -------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def report(rows: list[dict], started: str, load: tuple[float, float], total: float) -> str:
    measured = [r for r in rows if not r["extrapolated"]]
    lines = [SECTION, "",
             f"Run {started} on `{platform.machine()}` with {os.cpu_count()} CPUs **shared with other "
             f"workers** (load average {load[0]:.1f} at the start, {load[1]:.1f} at the end; one run, "
             f"{total / 60:.0f} min). Every figure of a row comes from the same run, one preview after "
             "the other, each in a fresh process on a new stack (the first preview: the kubeconfig is "
             "unknown); compare the ratios, which the shared machine moves less than the seconds. "
             f"Counts under {REPEATS_BELOW} steps are measured {REPEATS} times, interleaved, and each "
             "figure is the median.", "",
             "- **floor**: an inline program registering R - 2 `kubernetes:core/v1:ConfigMap` on one "
             "kubernetes provider with `renderYamlToDirectory` (R steps with the Stack and the provider), "
             "no pack, same CLI build, file backend, inline host and stack config;",
             "- **preview**: the program (prod with N tenants) with the pack; **no pack**: the same "
             "without it; **plan**: `./run plan` of the same stack (offline, mocks).", "",
             "- **skip checkpoints**: the floor and the preview (with the pack) again with "
             "`PULUMI_SKIP_CHECKPOINTS=true`, which stops the CLI serialising the whole snapshot after "
             "every step (see below: where the engine's time goes).", "",
             "| tenants | resources (steps) | floor s | preview s | no pack s | plan s | program / floor "
             "| pack overhead | plan / preview | floor s, skip cp | preview s, skip cp | program / floor, skip cp |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        x = ratios(r)
        mark = " (extrapolated)" if r["extrapolated"] else ""
        e = "*" if r["extrapolated"] else ""
        lines.append(f"| {r['tenants']}{mark} | {r['resources']} | {e}{r['floor']:.1f}{e} | {e}{r['preview']:.1f}{e} "
                     f"| {e}{r['nopack']:.1f}{e} | {r['plan']:.1f} | {x['program_over_floor']:.2f} | {x['pack']:.2f} "
                     f"| {x['plan_over_preview']:.2f} | {e}{r['floor_nc']:.1f}{e} | {e}{r['preview_nc']:.1f}{e} "
                     f"| {r['preview_nc'] / r['floor_nc']:.2f} |")
    ext = [r for r in rows if r["extrapolated"]]
    if ext:
        c = ext[0]["curves"]
        lines += ["", "*extrapolated*: engine seconds from t = a + b R + c R² fitted to the measured rows "
                  "(floor: " + _curve(c["floor"]) + "; preview: " + _curve(c["preview"]) + "); the plan "
                  "is measured. `./run bench --engine --engine-1000` measures them (hours)."]
    lines += ["", "CPU seconds (this process and its descendants: CLI, plugins, pack, inline host; "
              "moves less with other load than wall time):", "",
              "| tenants | floor | preview | no pack | plan | program / floor (CPU) | pack (CPU) |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['tenants']} | {r['floor_cpu']:.1f} | {r['preview_cpu']:.1f} | {r['nopack_cpu']:.1f} | "
              f"{r['plan_cpu']:.1f} | {r['preview_cpu'] / r['floor_cpu']:.2f} | {r['preview_cpu'] / r['nopack_cpu']:.2f} |"
              for r in measured]
    lines += ["", "Targets (issue 30), at every measured count:", ""]
    for key, target, what in (("program_over_floor", PROGRAM_OVER_FLOOR, "program / floor"),
                              ("pack", PACK_OVERHEAD, "pack overhead"),
                              ("plan_over_preview", PLAN_OVER_PREVIEW, "plan / preview")):
        got = [f"{ratios(r)[key]:.2f}" for r in measured]
        ok = all(ratios(r)[key] <= target for r in measured)
        lines.append(f"- {what} ≤ {target:g}x: {', '.join(got)} ({_verdict(ok)});")
    nc = [r["preview_nc"] / r["floor_nc"] for r in measured]
    lines.append(f"- program / floor ≤ {PROGRAM_OVER_FLOOR:g}x with checkpoints skipped: "
                 f"{', '.join(f'{v:.2f}' for v in nc)} ({_verdict(all(v <= PROGRAM_OVER_FLOOR for v in nc))}).")
    lines += ["", "Peak RSS (MiB, each part the sum of its processes' high-water marks) of the preview "
              "with the pack, and per 100 resources:", "",
              "| tenants | resources | CLI | providers | pack | inline host | other | total | total / 100 res "
              "| floor total / 100 res |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in measured:
        m, f = r["rss"], r["floor_rss"]
        tot, ftot = sum(m.values()), sum(f.values())
        lines.append(f"| {r['tenants']} | {r['resources']} | {m.get('cli', 0):.0f} | {m.get('providers', 0):.0f} | "
                     f"{m.get('pack', 0):.0f} | {m.get('host', 0):.0f} | {m.get('other', 0):.0f} | {tot:.0f} | "
                     f"{100 * tot / r['resources']:.1f} | {100 * ftot / r['floor_steps']:.1f} |")
    if len(measured) >= 2:
        lo, hi = measured[0], measured[-1]
        grown = hi["resources"] - lo["resources"]

        def per_100(part: str | None, key: str = "rss") -> float:
            def mib(r: dict) -> float:
                return sum(r[key].values()) if part is None else r[key].get(part, 0.0)
            return 100 * (mib(hi) - mib(lo)) / grown
        lines += ["", f"What 100 more resources cost (from {lo['tenants']} to {hi['tenants']} tenants, "
                  f"+{grown} resources): CLI {per_100('cli'):.1f} MiB, providers {per_100('providers'):.1f}, "
                  f"pack {per_100('pack'):.1f}, inline host {per_100('host'):.1f}; total {per_100(None):.1f} MiB "
                  f"(the floor: {per_100(None, 'floor_rss'):.1f} MiB). The rest is each process's fixed size."]
    lines += ["", f"![seconds over tenants](docs/{PLOT.name})", ""]
    return "\n".join(lines) + "\n"


def _curve(coef: list[float]) -> str:
    return " + ".join(f"{c:.3g}" + ("" if i == 0 else " R" if i == 1 else " R²") for i, c in enumerate(coef))


def plot(rows: list[dict]) -> str:
    series = {name: [(r["tenants"], r[key], r["extrapolated"]) for r in rows]
              for name, key in (("floor", "floor"), ("preview (pack)", "preview"), ("preview (no pack)", "nopack"),
                                ("offline plan", "plan"), ("preview (pack), skip checkpoints", "preview_nc"))}
    return line_plot(series, x_label="tenants (log)", y_label="seconds (log)",
                     title="prod + N tenants: real preview, floor and offline plan (dashed: extrapolated)")


def write_section(path: Path, section: str) -> None:
    """Replace this section of BENCHMARKS.md (up to the next `## ` heading) or insert it before
    the hand-kept builds section."""
    from tools.bench.__main__ import KEPT_FROM

    text = path.read_text() if path.is_file() else ""
    at = text.find(SECTION)
    if at >= 0:
        end = text.find("\n## ", at + len(SECTION))
        text = text[:at] + section + (text[end + 1:] if end >= 0 else "")
    else:
        kept = text.find(KEPT_FROM)
        text = (text[:kept] + section + "\n" + text[kept:]) if kept >= 0 else text + "\n" + section
    path.write_text(text)


def rewrite() -> int:
    """BENCHMARKS.md's section and the plot again from the last run's rows (a report change
    without measuring again)."""
    data = json.loads(RESULTS.read_text())
    write_section(ROOT / "BENCHMARKS.md", report(data["rows"], data["started"], tuple(data["load"]), data["total"]))
    PLOT.write_text(plot(data["rows"]))
    return 0


def main(counts: tuple[int, ...], full_1000: bool, with_profile: bool, write: bool = True) -> int:
    from tools.engine import inline

    try:
        inline.bin_dir()
        if not (inline.bin_dir() / "pulumi").is_file():
            raise inline.EngineUnavailable("no pulumi CLI: run ./run engine build")
    except (inline.EngineUnavailable, subprocess.CalledProcessError) as err:
        print(f"bench --engine: {err}", file=sys.stderr)
        return 2
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_start, t0 = os.getloadavg()[0], time.perf_counter()
    counts = tuple(sorted(set(counts) | ({EXTRAPOLATED_TENANTS} if full_1000 else set())))
    with tempfile.TemporaryDirectory(prefix="k3sp-bench-engine-") as tmp:
        directory = Path(tmp)
        rows = [measure(n, directory) for n in counts]
        if not full_1000 and EXTRAPOLATED_TENANTS not in counts:
            if len(rows) >= 2:
                rows.append(extrapolate(rows, EXTRAPOLATED_TENANTS, directory))
            else:
                print(f"bench --engine: one measured count, no curve to extrapolate {EXTRAPOLATED_TENANTS} "
                      "tenants from", file=sys.stderr)
        if with_profile:  # the smallest and the largest measured count: what grows is what differs
            measured = sorted((r for r in rows if not r["extrapolated"]), key=lambda r: r["tenants"])
            for r in {id(x): x for x in (measured[0], measured[-1])}.values():
                profile(r["tenants"], r["resources"], directory)
    total = time.perf_counter() - t0
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"rows": rows, "started": started, "load": [load_start, os.getloadavg()[0]],
                                   "total": total}, indent=1))
    print(f"bench --engine: raw figures in {RESULTS.relative_to(ROOT)}")
    if write:
        write_section(ROOT / "BENCHMARKS.md", report(rows, started, (load_start, os.getloadavg()[0]), total))
        PLOT.write_text(plot(rows))
        print(f"bench --engine ({total:.0f} s) -> BENCHMARKS.md, docs/{PLOT.name}")
    return 0
