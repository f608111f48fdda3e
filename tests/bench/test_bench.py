"""tools.bench: the whole plan beside evaluation, per run in a fresh process, and a report
without machine paths."""

from __future__ import annotations

import pytest

from tools.bench import __main__ as bench


def test_stage_lines_are_read_from_the_plans_stderr():
    text = ("note\nplan: stack evaluated: 262 registrations in 1.5 s\n"
            "plan: policies checked: 200 resources, 0 violations in 0.4 s\nplan: files written: 9 files in 12.0 s\n")
    assert bench.stage_seconds(text) == {"stack evaluated": 1.5, "policies checked": 0.4, "files written": 12.0}


def test_tenant_counts_are_a_flag():
    assert bench.parse_args([]).tenants == (10, 100, 1000)
    assert bench.parse_args(["--tenants", "100,10"]).tenants == (10, 100)
    with pytest.raises(SystemExit):
        bench.parse_args(["--tenants", "ten"])


def test_child_runs_measure_evaluation_and_the_whole_plan(tmp_path):
    config = bench.write_tenant_config(tmp_path, 3)
    ev = bench.child_run("eval", config, tmp_path / "eval")
    plan = bench.child_run("plan", config, tmp_path / "plan")
    assert ev["registrations"] == plan["registrations"] > 139  # prod plus the tenants' resources
    assert 0 < ev["seconds"] and 0 < plan["seconds"]
    assert ev["rss_mib"] > 10 and plan["rss_mib"] > 10
    assert 0 < ev["cpu_s"] < plan["cpu_s"]
    assert list(plan["stages"]) == ["stack evaluated", "objects validated", "policies checked",
                                    "files rendered", "files written"]
    assert (tmp_path / "plan" / "summary.json").is_file()


def test_report_names_the_command_and_no_machine_path():
    rows = [{"tenants": n, "resources": 17 * n, "eval_s": n / 10, "plan_s": n / 6, "eval_ms": 5.9, "plan_ms": 9.8,
             "plan_over_eval": 1.67, "stages": {"stack evaluated": n / 10}, "eval_rss": 100.0 + n,
             "eval_cpu": n / 10, "plan_cpu": n / 6, "cpu_over_eval": 1.67,
             "plan_rss": 150.0 + n} for n in (10, 100)]
    policies = [{"label": "prod", "resources": 125, "start": 0.7, "analyze": 0.05, "stack": 0.02,
                 "per_second": 1785, "per_second_with_start": 160, "per_cpu_second": 2500, "violations": 0}]
    path = {"length": 1, "custom_resources": 1, "remote_steps": 0, "names": ["a"], "types": ["t"],
            "with_providers": {"length": 1, "remote_steps": 0, "names": ["a"]}}
    evals = [{"stack": "dev", "resources": 93, "median": 0.5, "min": 0.4, "max": 0.6}]
    previews = [{"label": "prod", "resources": 125, "client": "engine (policy-calls)", "per_second": 690,
                 "pack": {"per_resource": 0.17, "stack": 0.01, "per_second": 690, "per_cpu_second": 800,
                          "diagnostics": 0},
                 "floor": {"per_resource": 0.12, "stack": 0.005, "per_second": 990, "per_cpu_second": 1200,
                           "diagnostics": 0}}]
    text = bench.report(bench.machine(), evals, rows, bench.ratios(rows), policies, previews, path, 5.0, 60.0,
                        (1.0, 2.0))
    assert "`./run bench`" in text
    for machine_path in ("/work/", "/tmp/", "/root/", "/home/"):
        assert machine_path not in text
    assert "plan / evaluation" in text and "meets / meets the 2x target" in text
    # The pack in isolation is a regression guard beside its floor, with no throughput target.
    assert "prod: 690 resources/s, 0.70 of the floor (990 resources/s). No target" in text
    assert "| 990 | 0.70 |" in text
    assert "1500" not in text and "meets 1" not in text
