"""The first `pulumi preview` of a new dev and prod stack, by the real engine with the pack.

In this preview the cluster's CAs do not exist yet (pulumi-tls makes keys at create), so the
Kubernetes provider's kubeconfig is unknown and the engine gives the stack policies empty
outputs for every Kubernetes object; the pack must still pass the stack (and see what it
checks), and the engine must plan exactly what the offline plan shows.

Once the CAs exist the kubeconfig is known in every preview — nothing is read from a host —
so the provider is configured even while no API server answers (docs/adr/0011): the objects
preview with their inputs, and the provider is registered only after every node step."""

from __future__ import annotations

import pulumi
import pytest

from components.cluster import cluster_cas
from tests.shared_data import SHARED, serve
from tools.engine import inline
from tools.imitations.harness import run_stack

from .conftest import assert_no_errors
from .lab_cluster import stack_file


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

    # Nothing of the CAs is known yet, so the provider stays unconfigured: empty outputs.
    namespaces = outputs_of(run, "kubernetes:core/v1:Namespace")
    assert namespaces and not any(o.get("metadata") for o in namespaces)


def outputs_of(run: inline.Run, type_: str) -> list[dict]:
    return [e["res_outputs_event"]["metadata"].get("new", {}).get("outputs") or {}
            for e in run.events if "res_outputs_event" in e
            and e["res_outputs_event"]["metadata"]["type"] == type_]


def cas_only() -> None:
    """The program's first resources alone, under the same parents (so the same URNs): the
    state of a stack whose CAs exist but whose install has not run yet."""
    root = pulumi.ComponentResource("k3s-platform:index:Platform", "k3s")
    cluster = pulumi.ComponentResource("k3s-platform:cluster:K3sCluster", "k3s-cluster",
                                       opts=pulumi.ResourceOptions(parent=root))
    child = pulumi.ResourceOptions(parent=cluster)
    cas = cluster_cas.program_cas("k3s-cluster", child)
    access = cluster_cas.program_access("k3s-cluster", "https://unused:6443", cas)
    cluster_cas.program_kubeconfig("k3s-cluster", access, child)  # the program's own certificate


@pytest.mark.parametrize("stack", ["dev"])
def test_once_the_cas_exist_every_preview_has_a_configured_provider(stack, engine_bins, work):
    with serve(SHARED / "charts") as charts:  # the Releases template their charts in preview
        config = stack_file(stack, work / f"{stack}.yaml", charts)
        made = inline.EngineStack(stack, work, config_file=config, echo=None, pack=False, program=cas_only).up()
        assert_no_errors(made)
        assert made.changes.get("create", 0) >= 14  # five CAs and keys, the service-account key, the program's

        run = inline.EngineStack(stack, work, config_file=config, echo=None).preview()
        inline.write_events(run, work / "preview.events.jsonl")
    assert_no_errors(run)
    assert {s["op"] for s in run.steps() if s["type"].startswith("tls:") and s["name"].startswith("k3s-cluster-")} == {"same"}
    assert run.policy_violations("mandatory") == []
    # Configured with a known kubeconfig to an API server that is not there yet: the objects are
    # previewed with their inputs as outputs, which the pack's stack policies then see.
    namespaces = outputs_of(run, "kubernetes:core/v1:Namespace")
    assert namespaces and all(o.get("metadata", {}).get("name") for o in namespaces), namespaces
    quotas = outputs_of(run, "kubernetes:core/v1:ResourceQuota")
    assert quotas and all(o.get("spec", {}).get("hard") for o in quotas)
    # Registered (and so configured) only after every node step: an `up` never configures it
    # while the install is still running.
    order = [e["resource_pre_event"]["metadata"]["urn"] for e in run.events if "resource_pre_event" in e]
    provider = next(i for i, urn in enumerate(order) if "pulumi:providers:kubernetes" in urn)
    node_steps = [i for i, urn in enumerate(order) if urn.endswith(("-member", "-upgrade", "-install"))]
    assert node_steps and max(node_steps) < provider
