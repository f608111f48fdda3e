"""The pack's servicer skips per-call work whose result cannot change the answer
(`_call_overhead.install()`): Remediate decodes nothing while no policy is at the `remediate`
level, and the runtime settings are applied again only when the engine's variables changed.
Answers are compared with pulumi-policy's own servicer, called in-process.
"""

from __future__ import annotations

import json

import guardrails
import pulumi.runtime
import pulumi_policy.policy
import pytest
from guardrails import _call_overhead
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from tests.policies import helpers
from tools import policy_runner

REMEDIATE = 3  # proto EnforcementLevel


def _servicer() -> _PolicyAnalyzerServicer:
    return _PolicyAnalyzerServicer("k3s-platform-guardrails", "0.0.1", guardrails.ALL_POLICIES,
                                   EnforcementLevel.MANDATORY, None, None, None, None, None, None, None)


def _request() -> analyzer_pb2.AnalyzeRequest:
    spec = helpers.good_pod_spec()
    spec["securityContext"] = {"runAsUser": 0}
    obj = helpers.pod(spec, name="root")
    return analyzer_pb2.AnalyzeRequest(type=helpers.type_of(obj), urn=helpers.urn_of(obj), name="root",
                                       properties=policy_runner.struct_message(obj))


def _at_remediate(server: _PolicyAnalyzerServicer, policy: str) -> _PolicyAnalyzerServicer:
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    request.policyConfig[policy].CopyFrom(analyzer_pb2.PolicyConfig(enforcementLevel=REMEDIATE))
    server.Configure(request, None)
    return server


@pytest.fixture
def installed():
    _call_overhead.install()
    try:
        yield
    finally:
        _call_overhead.uninstall()


@pytest.fixture
def decodes(monkeypatch):
    count = {"n": 0}
    real = pulumi_policy.policy.deserialize_properties

    def counted(*args, **kwargs):
        count["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(pulumi_policy.policy, "deserialize_properties", counted)
    return count


def test_remediate_without_remediate_level_decodes_nothing_and_answers_the_same(decodes):
    plain = _servicer().Remediate(_request(), None)
    assert decodes["n"] == 1  # pulumi-policy's own Remediate decodes before looking at any policy
    _call_overhead.install()
    try:
        fast = _servicer().Remediate(_request(), None)
    finally:
        _call_overhead.uninstall()
    assert decodes["n"] == 1
    assert fast.SerializeToString(deterministic=True) == plain.SerializeToString(deterministic=True)


def test_a_policy_at_the_remediate_level_gets_pulumi_policys_remediate(decodes):
    policy = guardrails.ALL_POLICIES[0].name
    plain = _at_remediate(_servicer(), policy).Remediate(_request(), None)
    _call_overhead.install()
    try:
        through = _at_remediate(_servicer(), policy).Remediate(_request(), None)
    finally:
        _call_overhead.uninstall()
    assert decodes["n"] == 2
    # the policy has no remediation: pulumi-policy says so, and so do we
    assert [n.policy_name for n in plain.not_applicable] == [policy]
    assert through.SerializeToString(deterministic=True) == plain.SerializeToString(deterministic=True)


def _engine_env(monkeypatch, tenants: int) -> None:
    config = {"k3s-platform:domain": "example.org",
              "k3s-platform:tenants": json.dumps([{"name": f"t{i}"} for i in range(tenants)])}
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(config))
    for name, value in (("PULUMI_PROJECT", "k3s-platform"), ("PULUMI_STACK", "prod"), ("PULUMI_DRY_RUN", "true")):
        monkeypatch.setenv(name, value)


def test_runtime_settings_applied_once_while_the_environment_is_unchanged(installed, monkeypatch):
    applied = []
    real = pulumi.runtime.set_config
    monkeypatch.setattr(pulumi.runtime, "set_config", lambda k, v: (applied.append(k), real(k, v)))
    _engine_env(monkeypatch, 2)
    server = _servicer()
    for _ in range(3):
        server.Remediate(_request(), None)
        server.Analyze(_request(), None)
    assert applied == ["k3s-platform:domain", "k3s-platform:tenants"]
    assert pulumi.runtime.get_config("k3s-platform:tenants") == json.dumps([{"name": "t0"}, {"name": "t1"}])
    _engine_env(monkeypatch, 3)  # the config changed: applied again, once
    server.Analyze(_request(), None)
    server.Analyze(_request(), None)
    assert len(applied) == 4
    assert json.loads(pulumi.runtime.get_config("k3s-platform:tenants"))[-1] == {"name": "t2"}


def test_without_install_the_settings_are_applied_on_every_call(monkeypatch):
    applied = []
    monkeypatch.setattr(pulumi.runtime, "set_config", lambda k, v: applied.append(k))
    _engine_env(monkeypatch, 2)
    server = _servicer()
    server.Analyze(_request(), None)
    server.Analyze(_request(), None)
    assert len(applied) == 4


def test_install_is_idempotent_and_reversible():
    servicer = pulumi_policy.policy._PolicyAnalyzerServicer
    before = (servicer.Remediate, servicer._configure_runtime_settings)
    _call_overhead.install()
    wrapped = (servicer.Remediate, servicer._configure_runtime_settings)
    _call_overhead.install()
    assert (servicer.Remediate, servicer._configure_runtime_settings) == wrapped != before
    _call_overhead.uninstall()
    assert (servicer.Remediate, servicer._configure_runtime_settings) == before
