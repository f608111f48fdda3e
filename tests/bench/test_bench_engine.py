"""tools.bench.engine: the per-count line scripts read, the fitted curve behind the 1,000-tenant
extrapolation, the report's targets, and BENCHMARKS.md sections kept by both bench modes.
(The previews themselves need the engine build: `./run bench --engine`.)"""

from __future__ import annotations

import re

import pytest

from tools.bench import __main__ as bench
from tools.bench import engine, engine_child

LINE = re.compile(r"^tenants (\d+): (\d+) resources, floor ([\d.]+) s, preview ([\d.]+) s, "
                  r"program/floor (\d+\.\d\d)x, pack overhead (\d+\.\d\d)x, plan/preview (\d+\.\d\d)x( \(extrapolated\))?$")


def row(n: int, floor: float, preview: float, nopack: float, plan: float, extrapolated: bool = False) -> dict:
    return {"tenants": n, "resources": 20 * n + 105, "floor_steps": 20 * n + 105, "floor": floor,
            "preview": preview, "nopack": nopack, "plan": plan, "floor_cpu": floor, "preview_cpu": preview,
            "nopack_cpu": nopack, "plan_cpu": plan, "rss": {"cli": 150.0 + n, "providers": 300.0, "pack": 80.0,
                                                            "host": 150.0},
            "floor_rss": {"cli": 150.0, "providers": 100.0, "host": 90.0}, "load": 1.0,
            "extrapolated": extrapolated, "floor_nc": floor / 2, "preview_nc": preview / 2}


def test_the_line_is_the_issues_format():
    text = engine.line(row(100, 148.0, 211.0, 172.0, 10.0))
    m = LINE.match(text)
    assert m, text
    assert m.groups()[:7] == ("100", "2105", "148.0", "211.0", "1.43", "1.23", "0.05") and m.group(8) is None
    assert LINE.match(engine.line(row(1000, 1.0, 2.0, 1.5, 0.5, extrapolated=True))).group(8)
    assert not LINE.match(engine.line_nc(row(100, 148.0, 211.0, 172.0, 10.0)))  # its own prefix


def test_fit_recovers_a_quadratic_and_a_line():
    xs = [145.0, 305.0, 2105.0]
    coef = engine.fit(xs, [1 + 0.002 * x + 3e-5 * x * x for x in xs], 2)
    assert coef == pytest.approx([1, 0.002, 3e-5], rel=1e-6)
    assert engine.evaluate(coef, 19000) == pytest.approx(1 + 38 + 3e-5 * 19000 ** 2, rel=1e-6)
    assert engine.fit([2, 10, 100], [145, 305, 2105], 1) == pytest.approx([105, 20])


def test_report_judges_every_measured_count_and_marks_the_extrapolated_row():
    rows = [row(2, 3.0, 3.6, 3.0, 1.5), row(100, 148.0, 211.0, 172.0, 10.0),
            row(1000, 5000.0, 7000.0, 6000.0, 95.0, extrapolated=True)]
    rows[-1]["curves"] = {k: [1.0, 0.01, 1e-5] for k in ("floor", "preview", "nopack", "floor_nc", "preview_nc")}
    text = engine.report(rows, "2026-12-06 22:00 UTC", (1.0, 2.0), 600.0)
    assert "shared with other workers" in text
    assert "- program / floor ≤ 1.3x: 1.20, 1.43 (MISSES);" in text  # 1000 (extrapolated) not judged
    assert "- pack overhead ≤ 1.25x: 1.20, 1.23 (meets);" in text
    assert "- plan / preview ≤ 1x: 0.42, 0.05 (meets);" in text
    assert "| 1000 (extrapolated) | 20105 | *5000.0* |" in text
    assert "- program / floor ≤ 1.3x with checkpoints skipped: 1.20, 1.43 (MISSES)." in text
    # Fixed sizes apart: 100 more resources cost what the largest count added over the smallest.
    assert "+1960 resources): CLI 5.0 MiB" in text and "total 5.0 MiB (the floor: 0.0 MiB)" in text
    for machine_path in ("/work/", "/tmp/", "/root/", "/home/"):
        assert machine_path not in text


def test_sections_survive_both_bench_modes(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\noffline\n\n" + bench.KEPT_FROM + "\n\nbuilds\n")
    engine.write_section(path, engine.SECTION + "\n\nfirst\n")
    engine.write_section(path, engine.SECTION + "\n\nsecond\n")
    text = path.read_text()
    assert text.count(engine.SECTION) == 1 and "second" in text and "first" not in text
    assert text.index("offline") < text.index(engine.SECTION) < text.index(bench.KEPT_FROM)
    kept = bench.kept_sections(path)  # what the offline bench appends after its own sections
    assert kept.lstrip().startswith(engine.SECTION) and "builds" in kept and "offline" not in kept


def test_plot_is_svg_with_every_series():
    svg = engine.plot([row(2, 3.0, 3.6, 3.0, 1.5), row(100, 148.0, 211.0, 172.0, 10.0),
                       row(1000, 5000.0, 7000.0, 6000.0, 95.0, extrapolated=True)])
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    for name in ("floor", "preview (pack)", "preview (no pack)", "offline plan", "preview (pack), skip checkpoints"):
        assert f">{name}</text>" in svg
    assert "stroke-dasharray" in svg


def test_engine_flags():
    args = bench.parse_args(["--engine"])
    assert args.engine and args.engine_tenants == (2, 10, 100) and not args.engine_1000
    assert bench.parse_args(["--engine", "--engine-tenants", "10,2"]).engine_tenants == (2, 10)
    with pytest.raises(SystemExit):
        bench.parse_args(["--engine", "--engine-tenants", "0"])


def test_memory_parts_are_named_from_the_process_tree():
    sampler = engine_child.MemorySampler()
    sampler.start()
    parts = sampler.stop()
    assert parts["host"] > 10  # this process, the inline program's host
