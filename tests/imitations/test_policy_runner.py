"""tools/imitations/policy_runner.py (and tools/policycheck.py on top of it): the pack run through
its analyzer server the way the engine runs it, config reconciliation like the CLI, and clean
failures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
import yaml

from tests.policies.helpers import (
    default_deny,
    good_pod_spec,
    limit_range,
    namespace,
    pod,
    quota,
)
from tools.imitations.policy_runner import (
    AnalyzerProcess,
    PolicyRunError,
    Violation,
    check_resources,
    expand_only,
    manifest_resources,
    reconcile_config,
    type_token,
)
from tools.paths import ROOT


def _bad_stack() -> list[dict]:
    spec = good_pod_spec()
    spec["securityContext"] = {"seccompProfile": {"type": "RuntimeDefault"}}   # no runAsNonRoot
    root_pod = pod(spec, name="root-pod")
    latest = pod(name="floating")
    latest["spec"]["containers"][0]["image"] = "nginx:latest"
    docs = [namespace("team-a"), quota("team-a"), limit_range("team-a"), default_deny("team-a"),
            namespace("no-quota", tenant=False), root_pod, latest]
    return manifest_resources(docs, stack="test")


def _children() -> set[int]:
    """PIDs of analyzer servers started by this process (read from /proc)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if ppid == os.getpid() and b"pulumi.policy" in cmdline:
            found.add(int(entry))
    return found


def test_done_when_stack_names_root_pod_missing_quota_and_latest_image():
    violations = check_resources(_bad_stack())
    refs = {(v.policy, v.kind_ref()) for v in violations}
    assert ("pods-run-as-non-root", "Pod/team-a/root-pod") in refs
    assert ("namespace-quota-and-limits", "Namespace/_/no-quota") in refs
    assert ("image-tag-pinned", "Pod/team-a/floating") in refs
    assert all(v.enforcement == "mandatory" for v in violations)
    assert len(refs) == 3, refs     # nothing else in that stack is wrong


def test_stack_config_selects_enforcement_and_only_disables_the_rest():
    dev = check_resources(_bad_stack(), stack="dev")
    assert {v.policy: v.enforcement for v in dev}["image-tag-pinned"] == "advisory"
    assert {v.policy: v.enforcement for v in dev}["pods-run-as-non-root"] == "mandatory"
    prod = check_resources(_bad_stack(), stack="prod")
    assert {v.enforcement for v in prod} == {"mandatory"}
    only = check_resources(_bad_stack(), only={"pod-security"})
    assert {v.policy for v in only} == {"pods-run-as-non-root"}


def test_config_thresholds_reach_the_policies():
    config = {"namespace-quota-and-limits": {"exemptNamespaces": ["no-quota"]}}
    violations = check_resources(_bad_stack(), config=config)
    assert "namespace-quota-and-limits" not in {v.policy for v in violations}


def test_violation_carries_urn_type_and_name():
    v = next(v for v in check_resources(_bad_stack()) if v.policy == "image-tag-pinned")
    assert v.urn == "urn:pulumi:test::k3s-platform::kubernetes:core/v1:Pod::team-a/floating"
    assert v.type == "kubernetes:core/v1:Pod" and v.name == "team-a/floating"
    assert "nginx:latest" in v.message and not v.message.startswith("Container images")


def test_engine_shaped_resources_with_parent_dependencies_and_provider():
    ns = {"urn": "urn:pulumi:dev::k3s-platform::k3s-platform:platform:Tenant$kubernetes:core/v1:Namespace::a-ns",
          "type": "kubernetes:core/v1:Namespace", "name": "a-ns",
          "properties": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}},
          "parent": "urn:pulumi:dev::k3s-platform::k3s-platform:platform:Tenant::a",
          "dependencies": [], "provider": "urn:pulumi:dev::k3s-platform::pulumi:providers:kubernetes::k8s::id-1"}
    secret_cm = {"urn": "urn:pulumi:dev::k3s-platform::kubernetes:core/v1:Secret::s", "type": "kubernetes:core/v1:Secret",
                 "name": "s", "properties": {"apiVersion": "v1", "kind": "Secret",
                                             "metadata": {"name": "s", "namespace": "a"}, "stringData": "[secret]"},
                 "parent": None, "dependencies": [ns["urn"]], "provider": None}
    violations = check_resources([ns, secret_cm])
    assert {v.message for v in violations} == {"namespace 'a' has no ResourceQuota in this stack",
                                                "namespace 'a' has no LimitRange in this stack"}
    assert all("[secret]" not in v.message for v in violations)


def test_server_is_stopped_even_when_a_call_fails():
    assert _children() == set()
    with pytest.raises(PolicyRunError):
        check_resources(_bad_stack(), config={"pod-security-restricted": {"kubernetesVersion": 134}})
    check_resources(_bad_stack())
    time.sleep(0.1)
    assert _children() == set()
    with AnalyzerProcess() as server:
        proc = server.proc
        assert _children() == {proc.pid}
    assert proc.poll() is not None and _children() == set()


@pytest.mark.parametrize("resources,field", [
    ([{"type": "kubernetes:core/v1:Pod", "name": "p"}], "resources[0].urn"),
    ([{"urn": "u", "type": "t", "name": "n", "properties": []}], "resources[0].properties"),
    ([{"urn": "u", "type": "t", "name": "n"}, {"urn": "u", "type": "t", "name": "n"}], "resources[1].urn"),
])
def test_bad_resource_input_names_the_field(resources, field):
    with pytest.raises(PolicyRunError, match=field.replace("[", r"\[").replace("]", r"\]")):
        check_resources(resources)


def test_bad_only_and_stack_are_named():
    with pytest.raises(PolicyRunError, match="only: unknown policy or group 'pod-securty'"):
        expand_only({"pod-securty"})
    with pytest.raises(PolicyRunError, match="stack: no policy config"):
        check_resources([], stack="staging")
    assert expand_only({"pod-security", "image-tag-pinned"}) == {
        "pods-run-as-non-root", "pod-security-restricted", "image-tag-pinned", "stack-policy-inputs"}


def test_reconcile_like_the_cli():
    policies = [{"name": "a", "enforcement": "mandatory", "schema": {"properties": {
        "n": {"type": "integer", "default": 1}, "s": {"type": "string", "default": "x"}}, "required": []}},
        {"name": "b", "enforcement": "advisory", "schema": {"properties": {}, "required": []}}]
    assert reconcile_config(policies, {}) == {"a": ("mandatory", {"n": 1, "s": "x"}), "b": ("advisory", {})}
    got = reconcile_config(policies, {"all": "advisory", "a": {"enforcementLevel": "disabled", "n": 5}})
    assert got == {"a": ("disabled", {"n": 5, "s": "x"}), "b": ("advisory", {})}
    with pytest.raises(PolicyRunError, match=r"a\.n: 'five' is not of type 'integer'"):
        reconcile_config(policies, {"a": {"n": "five"}})
    with pytest.raises(PolicyRunError, match="'strict' is not an enforcement level"):
        reconcile_config(policies, {"b": "strict"})


def test_manifest_resources_type_tokens_and_errors():
    assert type_token("v1", "Pod") == "kubernetes:core/v1:Pod"
    assert type_token("networking.k8s.io/v1", "NetworkPolicy") == "kubernetes:networking.k8s.io/v1:NetworkPolicy"
    assert type_token("traefik.io/v1alpha1", "IngressRoute") == "kubernetes:traefik.io/v1alpha1:IngressRoute"
    docs = [None, {"apiVersion": "v1", "kind": "List", "items": [pod(name="a"), pod(name="b")]}]
    res = manifest_resources(docs, stack="dev")
    assert [r["urn"] for r in res] == ["urn:pulumi:dev::k3s-platform::kubernetes:core/v1:Pod::team-a/a",
                                       "urn:pulumi:dev::k3s-platform::kubernetes:core/v1:Pod::team-a/b"]
    with pytest.raises(PolicyRunError, match="x.yaml: kind is missing"):
        manifest_resources([{"apiVersion": "v1"}], sources=["x.yaml"])


def test_kind_ref_formats():
    v = Violation("p", "mandatory", "urn", "kubernetes:core/v1:Namespace", "ns", "m", kind="Namespace",
                  object_name="team-a")
    assert v.kind_ref() == "Namespace/_/team-a"
    assert Violation("p", "advisory", "", "", "", "m").kind_ref() == "stack"


def test_policycheck_cli_exit_codes_and_line_format(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump_all([namespace("no-quota", tenant=False)]))
    run = subprocess.run([sys.executable, "-m", "tools.policycheck", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert run.stdout.splitlines()[0] == ("namespace-quota-and-limits  Namespace/_/no-quota  "
                                          "namespace 'no-quota' has no ResourceQuota in this stack")
    run = subprocess.run([sys.executable, "-m", "tools.policycheck", "--stack", "dev", "--only", "image-tag-pinned",
                          str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout == ""
    (tmp_path / "broken.yaml").write_text("kind: [unclosed\n")
    run = subprocess.run([sys.executable, "-m", "tools.policycheck", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and re.search(r"broken\.yaml:\d+:\d+: not valid YAML", run.stderr)
    assert "Traceback" not in run.stderr


def test_advisory_only_exits_zero(tmp_path):
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(pod(name="f") | {}).replace("1.2.3", "latest"))
    run = subprocess.run([sys.executable, "-m", "tools.policycheck", "--stack", "dev", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "image-tag-pinned  Pod/team-a/f" in run.stdout


def test_throughput_is_reasonable():
    docs = [pod(name=f"p{i}") for i in range(1000)]
    start = time.perf_counter()
    assert check_resources(manifest_resources(docs)) == []
    rate = len(docs) / (time.perf_counter() - start)
    print(f"policy throughput: {rate:.0f} resources/s (7 policies, incl. server start)")
    assert rate > 100
