"""Fresh-preview mode: the engine refuses to construct a remote component (helm.v4.Chart)
whose provider is configured from another resource's output, because on a first
`pulumi preview` that output is unknown."""

import os
import subprocess
import sys

import pulumi
import pulumi_kubernetes as k8s
from pulumi_command import remote

from tools.imitations.engine_rules import CONSTRUCT_UNKNOWN, construct_errors
from tools.imitations.harness import run_stack
from tools.paths import ROOT
from tools.plan.modes import run_mode

KNOWN_KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- {name: c, cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: ZmFrZS1jYQ==}}
users:
- {name: u, user: {client-certificate-data: ZmFrZS1jZXJ0, client-key-data: ZmFrZS1rZXk=}}
contexts:
- {name: c, context: {cluster: c, user: u}}
current-context: c
"""


def chart_on(kubeconfig_from_command: bool):
    def program():
        if kubeconfig_from_command:
            read = remote.Command("kc", connection=remote.ConnectionArgs(host="10.0.0.1"), create="cat kubeconfig")
            kubeconfig = read.stdout
        else:
            kubeconfig = KNOWN_KUBECONFIG
        provider = k8s.Provider("cluster", kubeconfig=kubeconfig)
        k8s.helm.v4.Chart("traefik", chart="traefik", opts=pulumi.ResourceOptions(provider=provider))
    return program


def test_remote_component_on_a_provider_with_computed_config_fails_the_fresh_preview():
    run = run_stack("dev", program=chart_on(True), fresh_preview=True)
    [error] = construct_errors(run)
    assert CONSTRUCT_UNKNOWN in error
    assert "kubernetes:helm.sh/v4:Chart::traefik" in error and "provider cluster" in error
    assert "kubeconfig" in error
    assert run_mode("dev", fresh_preview=True, program=chart_on(True)) == 1


def test_remote_component_on_a_known_provider_passes():
    run = run_stack("dev", program=chart_on(False), fresh_preview=True)
    assert construct_errors(run) == []
    assert run_mode("dev", fresh_preview=True, program=chart_on(False)) == 0


def test_normal_run_knows_every_output():
    # Without the flag the mocks compute outputs: nothing is unknown, nothing is refused.
    run = run_stack("dev", program=chart_on(True))
    assert all(not r.unknown_inputs for r in run.registrations)
    assert construct_errors(run) == []


def test_fresh_preview_cli_on_the_real_stacks():
    """Neither stack has a remote component (charts are helm.v3.Release), and the pack's stack
    policies, given empty outputs for every object of the not-yet-configured Kubernetes
    provider, still pass: both first previews are accepted."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for stack in ("dev", "prod"):
        result = subprocess.run([sys.executable, "-m", "tools.plan", stack, "--fresh-preview"], cwd=ROOT,
                                capture_output=True, text=True, env=env, timeout=600)
        remote_charts = result.stdout.count("kubernetes:helm.sh/v4:Chart::")
        assert result.returncode == (1 if remote_charts else 0), result.stdout + result.stderr
        assert result.stdout.count(CONSTRUCT_UNKNOWN) == remote_charts
        assert "Traceback" not in result.stderr


def test_fresh_preview_gives_stack_policies_empty_outputs_for_the_unconfigured_provider():
    from tools.imitations.engine_rules import unconfigured_provider_resources

    run = run_stack("dev", fresh_preview=True)
    unconfigured = unconfigured_provider_resources(run)
    namespaces = [r.urn for r in run.by_type("kubernetes:core/v1:Namespace")]
    assert namespaces and set(namespaces) <= unconfigured
    # The router's objects use their own (dynamic) providers, which are always configured.
    assert not [u for u in unconfigured if "pfsense" in u.lower()]
    assert not [u for u in unconfigured if ":command:" in u or "random:" in u]
