"""The pack decodes each resource once per analyzer request, for all its policies, and says
exactly what it said before (same diagnostics, names, levels, "can't run policy" cases).

The analyzer is pulumi-policy's own servicer, called in-process with the engine's request
messages, with and without `_shared_decode.install()`.
"""

from __future__ import annotations

import math
import random

import guardrails
import pulumi_policy.proxy
import pytest
from google.protobuf import json_format, struct_pb2
from guardrails import _k8s, _shared_decode, quotas
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_ARRAY_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy

from tests.policies import helpers
from tools import policy_runner

PROVIDER = "urn:pulumi:test::k3s-platform::pulumi:providers:kubernetes::k8s::id-1"


def _servicer() -> _PolicyAnalyzerServicer:
    return _PolicyAnalyzerServicer("k3s-platform-guardrails", "0.0.1", guardrails.ALL_POLICIES,
                                   EnforcementLevel.MANDATORY, None, None, None, None, None, None, None)


def _request(obj: dict) -> analyzer_pb2.AnalyzeRequest:
    return analyzer_pb2.AnalyzeRequest(
        type=helpers.type_of(obj), urn=helpers.urn_of(obj), name=obj["metadata"]["name"],
        properties=policy_runner.struct_message(obj), provider=policy_runner.provider_message(PROVIDER))


def _stack_request(objs: list[dict]) -> analyzer_pb2.AnalyzeStackRequest:
    return analyzer_pb2.AnalyzeStackRequest(resources=[
        analyzer_pb2.AnalyzerResource(type=helpers.type_of(o), urn=helpers.urn_of(o), name=o["metadata"]["name"],
                                      properties=policy_runner.struct_message(o),
                                      provider=policy_runner.provider_message(PROVIDER))
        for o in objs])


@pytest.fixture
def shared():
    _shared_decode.install()
    try:
        yield
    finally:
        _shared_decode.uninstall()


@pytest.fixture
def decodes(monkeypatch):
    """Counts whole-object decodes: top-level builds of the unknown-checking proxies."""
    count = {"n": 0}
    real = pulumi_policy.proxy._proxy_helper

    def helper(value, props_acc):
        if not props_acc:
            count["n"] += 1
        return real(value, props_acc)

    monkeypatch.setattr(pulumi_policy.proxy, "_proxy_helper", helper)
    return count


def _bad_pod() -> dict:
    spec = helpers.good_pod_spec()
    spec["securityContext"] = {"runAsUser": 0}
    spec["containers"][0]["image"] = "nginx"
    del spec["containers"][0]["resources"]
    return helpers.pod(spec, name="root")


def _unknown_pod() -> dict:
    spec = helpers.good_pod_spec()
    spec["containers"] = UNKNOWN_ARRAY_VALUE
    return helpers.pod(spec, name="later")


OBJECTS = [helpers.workload("Deployment"), _bad_pod(), _unknown_pod(), helpers.namespace("team-a"),
           helpers.quota("team-a"), helpers.namespace("bare"), helpers.workload("CronJob", name="nightly")]


def _answers() -> list[bytes]:
    server = _servicer()
    out = [server.Analyze(_request(o), None).SerializeToString(deterministic=True) for o in OBJECTS]
    out.append(server.AnalyzeStack(_stack_request(OBJECTS), None).SerializeToString(deterministic=True))
    return out


def test_same_diagnostics_with_shared_decode():
    plain = _answers()
    _shared_decode.install()
    try:
        shared = _answers()
    finally:
        _shared_decode.uninstall()
    assert shared == plain
    # and the cases are real: violations by several policies, and "can't run" on unknowns
    text = b"".join(plain)
    for name in (b"pods-run-as-non-root", b"image-tag-pinned", b"container-resources", b"namespace-quota-and-limits"):
        assert name in text
    assert b"can't run policy" in text


def test_one_decode_per_analyze_request(shared, decodes):
    server = _servicer()
    server.Analyze(_request(helpers.workload("Deployment")), None)
    assert decodes["n"] == 2  # the properties and the provider's, once each for five policies


def test_without_sharing_each_policy_decodes(decodes):
    server = _servicer()
    server.Analyze(_request(helpers.workload("Deployment")), None)
    assert decodes["n"] == 2 * 5  # four checking policies and the stack-policy-inputs recorder


def test_one_decode_per_resource_in_analyze_stack(shared, decodes):
    _servicer().AnalyzeStack(_stack_request(OBJECTS), None)
    # not once per stack policy (three); the provider's properties, the same in every resource, once
    assert decodes["n"] == len(OBJECTS) + 1


def test_install_is_idempotent_and_reversible(shared):
    from pulumi_policy import policy as server

    patched = server.deserialize_properties
    _shared_decode.install()
    assert server.deserialize_properties is patched
    _shared_decode.uninstall()
    assert not getattr(server.deserialize_properties, "shared_decode", False)
    _shared_decode.install()  # the fixture uninstalls


def _random_value(rng: random.Random, depth: int = 0):
    pick = rng.randrange(8 if depth < 4 else 5)
    if pick == 0:
        return None
    if pick == 1:
        return rng.choice([True, False])
    if pick == 2:
        return rng.choice([0, 1, -3, 2.5, 1e21, 65536, 0.1])
    if pick in (3, 4):
        return rng.choice(["", "x", "ünï", "1b47061264138c4ac30d75fd1eb44270", UNKNOWN_STRING_VALUE])
    if pick in (5, 6):
        return {rng.choice("zyxabc") + str(i): _random_value(rng, depth + 1) for i in range(rng.randrange(4))}
    return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]


@pytest.mark.parametrize("seed", range(30))
def test_struct_to_dict_is_message_to_dict(seed):
    rng = random.Random(seed)
    struct = struct_pb2.Struct()
    struct.update({f"k{i}": _random_value(rng) for i in range(6)})
    mine, theirs = _shared_decode.struct_to_dict(struct), json_format.MessageToDict(struct)
    assert mine == theirs
    assert repr(mine) == repr(theirs)  # same types (floats) and the same key order


def test_numbers_json_cannot_hold_go_to_message_to_dict(shared):
    from pulumi_policy import policy as server

    struct = struct_pb2.Struct()
    struct.update({"x": math.nan})
    with pytest.raises(ValueError, match="NaN"):
        server.json_format.MessageToDict(struct)


# --- namespace index ---------------------------------------------------------------------


def _stack_object(rng: random.Random, i: int, ns_urns: list[str]) -> _k8s.StackObject:
    meta = {"name": f"o{i}"}
    choice = rng.randrange(4)
    if choice == 0:
        meta["namespace"] = rng.choice(["a", "b", "c"])
    elif choice == 1:
        meta["namespace"] = UNKNOWN_STRING_VALUE
    deps = tuple(rng.sample(ns_urns, rng.randrange(3)))
    props = unknown_checking_proxy({"kind": "ResourceQuota", "metadata": meta})
    return _k8s.StackObject(f"urn:o{i}", "kubernetes:core/v1:ResourceQuota", props, deps)


@pytest.mark.parametrize("seed", range(30))
def test_namespace_index_answers_as_in_namespace(seed):
    rng = random.Random(seed)
    names = ["a", "b", "c", UNKNOWN_STRING_VALUE, None]
    namespaces = []
    for i, name in enumerate(names):
        meta = {} if name is None else {"name": name}
        namespaces.append(_k8s.StackObject(f"urn:ns{i}", "kubernetes:core/v1:Namespace",
                                           unknown_checking_proxy({"kind": "Namespace", "metadata": meta})))
    objects = [_stack_object(rng, i, [n.urn for n in namespaces]) for i in range(rng.randrange(1, 15))]
    index = _k8s.NamespaceIndex(objects)
    for ns in namespaces:
        assert index.members(ns) == [o for o in objects if _k8s.in_namespace(o, ns)]


def test_quota_policy_reads_each_object_once_not_per_namespace(monkeypatch):
    calls = {"n": 0}
    real = _k8s.StackObject.namespace

    def counting(self):
        calls["n"] += 1
        return real(self)

    monkeypatch.setattr(_k8s.StackObject, "namespace", counting)
    objects = []
    for i in range(200):
        for obj in (helpers.namespace(f"t{i}"), helpers.quota(f"t{i}"), helpers.limit_range(f"t{i}")):
            objects.append(_k8s.StackObject(helpers.urn_of(obj), helpers.type_of(obj), unknown_checking_proxy(obj)))
    assert quotas.check_quotas(objects) == []
    assert calls["n"] <= 2 * 400  # each quota and limit range once; a scan per namespace reads 200 x 400


def test_collector_paused_during_analyze_stack_only(shared):
    import gc

    from pulumi_policy import StackValidationPolicy

    seen = []
    probe = StackValidationPolicy(name="probe", description="probe",
                                  validate=lambda args, report: seen.append(gc.isenabled()))
    server = _PolicyAnalyzerServicer("p", "0.0.1", [probe], EnforcementLevel.MANDATORY,
                                     None, None, None, None, None, None, None)
    assert gc.isenabled()
    server.AnalyzeStack(_stack_request(OBJECTS), None)
    assert seen == [False] and gc.isenabled()


# --- decoded once across requests --------------------------------------------------------


def _wire(message):
    """The message as the analyzer's server gets it: parsed from its bytes (protobuf maps
    then iterate in an order of their own, not necessarily the sender's)."""
    return type(message).FromString(message.SerializeToString())


def _engine_answers() -> list[bytes]:
    """Analyze per object, then AnalyzeStack, on one servicer, each request parsed from the wire."""
    server = _servicer()
    out = [server.Analyze(_wire(_request(o)), None).SerializeToString(deterministic=True) for o in OBJECTS]
    out.append(server.AnalyzeStack(_wire(_stack_request(OBJECTS)), None).SerializeToString(deterministic=True))
    return out


def test_same_diagnostics_when_analyze_stack_reuses_analyze_decodes():
    plain = _engine_answers()
    _shared_decode.install()
    try:
        shared = _engine_answers()
        assert len(_shared_decode._decoded) == len(OBJECTS) + 1  # AnalyzeStack found them all
    finally:
        _shared_decode.uninstall()
    assert shared == plain
    stack = plain[-1]
    assert b"namespace-quota-and-limits" in stack and b"bare" in stack  # a stack policy's violation
    assert b"can't run policy" in b"".join(plain)


def test_analyze_stack_after_analyze_decodes_nothing_again(shared, decodes):
    server = _servicer()
    for o in OBJECTS:
        server.Analyze(_wire(_request(o)), None)
    assert decodes["n"] == len(OBJECTS) + 1  # each object once, the shared provider once
    server.AnalyzeStack(_wire(_stack_request(OBJECTS)), None)
    assert decodes["n"] == len(OBJECTS) + 1


def test_decoded_keeps_only_the_last_used(shared):
    table = _shared_decode._Decoded(2)
    a, b, c = table.entry(b"a"), table.entry(b"b"), table.entry(b"c")
    assert len(table) == 2 and table.entry(b"b") is b and table.entry(b"c") is c
    assert table.entry(b"a") is not a  # dropped, decoded afresh


def test_options_and_provider_built_once_per_request(shared, monkeypatch):
    from pulumi_policy import policy as server

    built = {"n": 0}
    real = server.PolicyProviderResource

    def counting(*args):
        built["n"] += 1
        return real(*args)

    monkeypatch.setattr(server, "PolicyProviderResource", counting)
    _servicer().AnalyzeStack(_stack_request(OBJECTS), None)
    assert built["n"] == len(OBJECTS)  # not once per stack policy (three)


def test_decoded_resources_frozen_between_analyze_and_analyze_stack(shared):
    import gc

    server = _servicer()
    server.Analyze(_request(helpers.workload("Deployment")), None)
    assert gc.get_freeze_count() > 0
    server.AnalyzeStack(_stack_request(OBJECTS), None)
    assert gc.get_freeze_count() == 0 and gc.isenabled()
