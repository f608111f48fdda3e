"""Issue 16: `./run policycheck` on bad input. Alias bombs and duplicate keys refused with
file, line and column; *.YAML found in folder scans; FIFOs named as such (and never read);
`--stack` and `--config` combine instead of one silently dropping the other."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import pytest
import yaml

from tests.policies.helpers import ROOT, good_pod_spec, pod
from tests.test_safe_yaml import alias_bomb


def _limit_memory() -> None:  # a regression must fail the test, not exhaust the machine
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def policycheck(*args, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.policycheck", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, preexec_fn=_limit_memory)


def _root_pod(name: str = "root-pod") -> dict:
    spec = good_pod_spec()
    spec["securityContext"] = {"seccompProfile": {"type": "RuntimeDefault"}}  # no runAsNonRoot
    return pod(spec, name=name)


def _one_line_error(run: subprocess.CompletedProcess) -> str:
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and " — " in lines[0], run.stderr
    return lines[0]


def test_a_small_alias_bomb_is_refused_at_once(tmp_path):
    manifest = tmp_path / "bomb.yaml"
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol, namespace: a}\n" + alias_bomb()
    assert len(text) < 600
    manifest.write_text(text)
    line = _one_line_error(policycheck(manifest, timeout=60))
    assert line.startswith(f"policycheck: {manifest}:") and "expands to more than" in line


def test_a_duplicate_key_is_refused_naming_key_and_line(tmp_path):
    (tmp_path / "dup.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}\nkind: Namespace\n")
    line = _one_line_error(policycheck(tmp_path))
    assert "dup.yaml:5:1: duplicate key 'kind' (first at line 2)" in line


def test_upper_case_suffixes_are_found_in_folder_scans(tmp_path):
    (tmp_path / "Pod.YAML").write_text(yaml.safe_dump(_root_pod()))
    (tmp_path / "notes.txt").write_text("not a manifest")
    run = policycheck("--only", "pods-run-as-non-root", tmp_path)
    assert run.returncode == 1, run.stderr
    assert "pods-run-as-non-root  Pod/team-a/root-pod" in run.stdout


def test_a_fifo_is_named_as_such_and_never_read(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    line = _one_line_error(policycheck(fifo, timeout=60))  # reading it would block forever
    assert f"{fifo}: not a regular file (a FIFO)" in line
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(pod(name="ok")))
    line = _one_line_error(policycheck("--config", fifo, tmp_path / "p.yaml", timeout=60))
    assert "--config" in line and "not a regular file (a FIFO)" in line


def test_stack_and_config_combine(tmp_path):
    """`--stack dev` makes image-tag-pinned advisory; a `--config` for one threshold must not
    silently throw that (or any other stack setting) away."""
    floating = pod(name="floating")
    floating["spec"]["containers"][0]["image"] = "nginx:latest"
    (tmp_path / "m.yaml").write_text(yaml.safe_dump_all([floating, _root_pod()]))
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"pod-security-restricted": {"kubernetesVersion": "1.33"}}))
    both = policycheck("--stack", "dev", "--config", cfg, tmp_path / "m.yaml")
    stack_only = policycheck("--stack", "dev", tmp_path / "m.yaml")
    config_only = policycheck("--config", cfg, tmp_path / "m.yaml")
    assert both.returncode == 1, both.stderr
    assert "image-tag-pinned  Pod/team-a/floating" in both.stdout
    assert "pods-run-as-non-root  Pod/team-a/root-pod" in both.stdout
    # dev's advisory image-tag-pinned survives the --config (the threshold changes nothing else)
    assert (both.stdout, both.stderr) == (stack_only.stdout, stack_only.stderr)
    assert both.stderr != config_only.stderr  # ...which, alone, makes it mandatory
    bad = policycheck("--stack", "staging", "--config", cfg, tmp_path / "m.yaml")
    assert bad.returncode == 2 and "no policy config" in bad.stderr


def test_merge_pack_config_policy_by_policy():
    from tools.policycheck import merge_pack_config

    stack = {"all": "mandatory", "image-tag-pinned": "advisory",
             "pod-security-restricted": {"enforcementLevel": "mandatory", "kubernetesVersion": "1.32"}}
    assert merge_pack_config(stack, {"pod-security-restricted": {"kubernetesVersion": "1.33"}}) == {
        "all": "mandatory", "image-tag-pinned": "advisory",
        "pod-security-restricted": {"enforcementLevel": "mandatory", "kubernetesVersion": "1.33"}}
    assert merge_pack_config(stack, {"pod-security-restricted": "advisory"})["pod-security-restricted"] == {
        "enforcementLevel": "advisory", "kubernetesVersion": "1.32"}
    assert merge_pack_config(stack, {"image-tag-pinned": {"allow": ["x"]}})["image-tag-pinned"] == {
        "enforcementLevel": "advisory", "allow": ["x"]}
    assert merge_pack_config({}, {"a": "disabled"}) == {"a": "disabled"}


@pytest.mark.parametrize("text,why", [("[" * 50000 + "]" * 50000, "nesting deeper"),
                                      ("a: &a [*a]\n", "recursive")], ids=["deep", "recursive"])
def test_hostile_yaml_shapes_are_refused(tmp_path, text, why):
    (tmp_path / "x.yml").write_text(text)
    assert why in _one_line_error(policycheck(tmp_path, timeout=60))


def test_relative_paths_are_the_callers(tmp_path):
    """`./run` cds to the repository; PATH and --config are read where they were typed."""
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "pod.yaml").write_text(yaml.safe_dump(_root_pod()))
    (tmp_path / "cfg.json").write_text(json.dumps({"pods-run-as-non-root": "advisory"}))
    run = subprocess.run([sys.executable, "-m", "tools.policycheck", "--config", "cfg.json", "m"], cwd=ROOT,
                         capture_output=True, text=True, timeout=90, preexec_fn=_limit_memory,
                         env=dict(os.environ, K3S_PLATFORM_CALLER_CWD=str(tmp_path)))
    assert run.returncode == 0, run.stderr  # found the pod, and the config made it advisory
    assert "pods-run-as-non-root  Pod/team-a/root-pod" in run.stdout
