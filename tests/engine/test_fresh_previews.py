"""The first `pulumi preview` of a new dev and prod stack, by the real engine with the pack.

In this preview the Kubernetes provider's kubeconfig is unknown, so the engine gives the
stack policies empty outputs for every Kubernetes object; the pack must still pass the stack
(and see what it checks), and the engine must plan exactly what the offline plan shows."""

from __future__ import annotations

import pytest

from tools.engine import inline
from tools.harness import run_stack

from .conftest import assert_no_errors


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_fresh_preview_passes_the_pack_and_matches_the_offline_plan(stack, engine_bins, work, monkeypatch):
    # The tier proves the engine's default: a caller's legacy switch must not reach it.
    monkeypatch.setenv("PULUMI_LEGACY_PROVIDER_PREVIEW", "true")
    engine = inline.EngineStack(stack, work, echo=None)
    assert "PULUMI_LEGACY_PROVIDER_PREVIEW" not in engine.env
    run = engine.preview()
    inline.write_events(run, work / "preview.events.jsonl")
    assert_no_errors(run)
    assert run.policy_violations("mandatory") == []
    assert any("k3s-platform-guardrails" in line for line in run.output), "the pack did not run"

    steps = run.steps()
    assert {s["op"] for s in steps} == {"create"}
    planned = {s["urn"] for s in steps
               if s["type"] != "pulumi:pulumi:Stack" and not s["urn"].rsplit("::", 1)[-1].startswith("default")}
    offline = {r.urn for r in run_stack(stack).registrations}
    assert planned == offline
    assert run.changes.get("create") == len(planned) + 1  # the Stack; default providers uncounted
    # The unknown kubeconfig does not replace anything and the provider is configured later.
    [provider] = [s for s in steps if s["type"] == "pulumi:providers:kubernetes"]
    assert provider["op"] == "create"
