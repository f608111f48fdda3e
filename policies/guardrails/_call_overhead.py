"""Work pulumi-policy's analyzer does on every call although the answer does not depend on it.

The engine calls the analyzer twice for every resource, one resource at a time: `Remediate`,
then `Analyze` (pulumi v3.274.0, pkg/resource/deploy/step_generator.go; the deployment's event
loop handles one registration at a time). pulumi-policy's servicer (pinned 1.21.0) spends part
of each call on two things that `install()` makes cheaper, without changing any answer:

1. `Remediate` decodes the resource's properties (secrets kept) before it looks at a policy,
   yet only policies whose enforcement level is `remediate` are run. When no policy has that
   level (the pack's default, and every stack config of ours), the answer is the empty
   `RemediateResponse`: it is given without decoding anything.
2. `Remediate`, `Analyze` and `AnalyzeStack` start with `_configure_runtime_settings`, which
   parses PULUMI_CONFIG (the stack's whole config, as the engine passes it), sets every key and
   builds new runtime settings from PULUMI_PROJECT/STACK/DRY_RUN/ORGANIZATION. What it sets
   depends only on those variables: it runs again only when one of them changed.

Only the pack's entry point installs it. `install()` raises if a pulumi-policy upgrade renamed
a method it wraps; if the servicer's policy list is renamed, `Remediate` falls back to the
servicer's own (slower, same answer) and tests/policies/test_call_overhead.py fails.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any

from pulumi.runtime.proto import analyzer_pb2

_SETTINGS_ENV = tuple(name.encode() if os.supports_bytes_environ else name for name in (
    "PULUMI_CONFIG", "PULUMI_PROJECT", "PULUMI_STACK", "PULUMI_DRY_RUN", "PULUMI_ORGANIZATION"))
_POLICIES = "_PolicyAnalyzerServicer__policies"  # the servicer's (name-mangled) policy list
_WRAPPED = ("Remediate", "_configure_runtime_settings", "_get_enforcement_level")
_saved: dict[str, Any] = {}
# The raw values where the platform has them: comparing PULUMI_CONFIG's bytes is a memcmp,
# while os.environ decodes the whole value (the stack's config) on every read.
_environ: Any = os.environb if os.supports_bytes_environ else os.environ


def _settings_once(configure):
    """`_configure_runtime_settings`, run again only when the variables it reads changed."""
    applied: dict[str, Any] = {"env": None}
    lock = threading.Lock()

    @functools.wraps(configure)
    def configure_if_changed(self) -> None:
        env = tuple(_environ.get(name) for name in _SETTINGS_ENV)
        with lock:
            if applied["env"] == env:
                return
            configure(self)  # an error is not remembered: the next call tries again
            applied["env"] = env
    configure_if_changed.call_overhead = True
    return configure_if_changed


def _remediate_when_needed(remediate, remediate_level):
    """`Remediate` that answers at once when no policy is at the `remediate` level."""
    @functools.wraps(remediate)
    def answer(self, request, context):
        policies = getattr(self, _POLICIES, None)  # None: renamed upstream; the test of this module fails
        if policies is None or any(self._get_enforcement_level(p) == remediate_level for p in policies):
            return remediate(self, request, context)
        self._configure_runtime_settings()  # as the servicer does before anything else
        return analyzer_pb2.RemediateResponse()
    answer.call_overhead = True
    return answer


def install() -> None:
    """Wrap the analyzer of the installed pulumi-policy (idempotent)."""
    from pulumi_policy import EnforcementLevel
    from pulumi_policy import policy as server

    servicer = server._PolicyAnalyzerServicer
    missing = [n for n in _WRAPPED if not hasattr(servicer, n)]
    if missing:
        raise RuntimeError(f"pulumi_policy.policy._PolicyAnalyzerServicer has no {', '.join(missing)}: "
                           "update policies/guardrails/_call_overhead.py for this pulumi-policy")
    if getattr(servicer.Remediate, "call_overhead", False):
        return
    _saved.update({n: getattr(servicer, n) for n in ("Remediate", "_configure_runtime_settings")})
    servicer._configure_runtime_settings = _settings_once(servicer._configure_runtime_settings)
    servicer.Remediate = _remediate_when_needed(servicer.Remediate, EnforcementLevel.REMEDIATE)


def uninstall() -> None:
    """Put the servicer back as pulumi-policy ships it (tests compare the two)."""
    from pulumi_policy import policy as server

    for name, value in _saved.items():
        setattr(server._PolicyAnalyzerServicer, name, value)
    _saved.clear()

