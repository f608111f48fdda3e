"""tools.bench.engine_calls: the engine's calls, in the engine's order, with the engine's
environment for the analyzer, and the no-op floor beside them."""

from __future__ import annotations

import json

from tools.bench import engine_calls
from tools.imitations import policy_runner

CIPHERTEXT = "v1:abc:Zm9vYmFyYmF6cXV4"


def test_engine_env_is_the_stack_config_as_the_engine_passes_it_without_secrets():
    doc = {"config": {"k3s-platform:domain": "example.org", "k3s-platform:replicas": 3,
                      "k3s-platform:tenants": [{"name": "a"}], "k3s-platform:sshPrivateKey": {"secure": CIPHERTEXT}}}
    env = engine_calls.engine_env(doc, "prod")
    config = json.loads(env["PULUMI_CONFIG"])
    assert config["k3s-platform:domain"] == "example.org"
    assert config["k3s-platform:replicas"] == "3"  # every value a string, structured ones as JSON
    assert json.loads(config["k3s-platform:tenants"]) == [{"name": "a"}]
    assert config["k3s-platform:sshPrivateKey"] == "x" * len(CIPHERTEXT)  # same length, not the value
    assert CIPHERTEXT not in env["PULUMI_CONFIG"]
    assert (env["PULUMI_PROJECT"], env["PULUMI_STACK"], env["PULUMI_DRY_RUN"]) == ("k3s-platform", "prod", "true")


def test_driver_input_names_the_provider_as_the_engine_sends_it():
    [r] = engine_calls.driver_input([{
        "urn": "urn:pulumi:prod::k3s-platform::kubernetes:core/v1:Namespace::a", "type": "kubernetes:core/v1:Namespace",
        "name": "a", "properties": {"kind": "Namespace"}, "parent": None, "dependencies": None,
        "provider": "urn:pulumi:prod::k3s-platform::pulumi:providers:kubernetes::k8s::04da6b54"}])
    assert r["provider"] == {"urn": "urn:pulumi:prod::k3s-platform::pulumi:providers:kubernetes::k8s",
                             "type": "pulumi:providers:kubernetes", "name": "k8s"}
    assert (r["parent"], r["dependencies"], r["properties"]) == ("", [], {"kind": "Namespace"})


def test_measure_passes_real_traffic_to_the_pack_and_none_to_the_floor():
    resources = policy_runner.manifest_resources([engine_calls.ROOT_POD], stack="prod")
    m = engine_calls.measure(resources, stack_doc={"config": {"k3s-platform:domain": "example.org"}})
    assert m["client"] == "Python"
    assert m["pack"]["diagnostics"] >= 3  # root, privileged, no resources, unpinned image ...
    assert m["floor"]["diagnostics"] == 0
    assert m["pack"]["per_second"] > 0 and m["floor"]["per_second"] > 0
