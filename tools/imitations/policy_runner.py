"""Run the CrossGuard policy pack offline, the way the Pulumi engine does.

`check_resources(...)` starts the pack's analyzer exactly as the CLI's
`pulumi-analyzer-policy-python` launcher does (`python -u -m pulumi.policy <engine> <pack>`
with the pack folder as working directory), reads the port it prints, and talks to it
over gRPC with the engine's messages: `GetAnalyzerInfo`, `Configure` (policy config
reconciled like the CLI: schema defaults, then `"all"`, then per-policy values,
validated against each policy's `config_schema`), one `Analyze` per resource and one
`AnalyzeStack` for the whole set. The server is always stopped before returning.

`manifest_resources(docs)` turns parsed Kubernetes manifests into the same resource
dicts, so plain YAML can be checked (see tools/policycheck.py).

Only 127.0.0.1 is ever used: the analyzer binds there and the engine address passed to
the launcher is an unused placeholder (the pack never calls back into the engine).
"""

from __future__ import annotations

import contextlib
import copy
import gc
import json
import os
import selectors
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.cli import disowned, owned
from tools.paths import ROOT

if TYPE_CHECKING:  # imported where used at run time: grpc and the protos load only to talk to a pack
    import grpc
    from pulumi.runtime.proto.analyzer_pb2_grpc import AnalyzerStub

PACK_DIR = ROOT / "policies"
CONFIG_DIR = PACK_DIR / "config"
PROJECT = "k3s-platform"
ENGINE_PLACEHOLDER = "127.0.0.1:0"
START_TIMEOUT_S = 30.0
_IN_FLIGHT = 32          # concurrent Analyze calls on the one channel
_MAX_MESSAGE = 400 * 1024 * 1024  # same ceiling as pulumi-policy's server

ENFORCEMENT_LEVELS = ("advisory", "mandatory", "remediate", "disabled")
# proto EnforcementLevel values (pulumi/proto/analyzer.proto)
_LEVEL_NAMES = {0: "advisory", 1: "mandatory", 2: "disabled", 3: "remediate"}


class PolicyRunError(Exception):
    """Bad input or a pack that cannot be run; the message names what to fix."""


@dataclass(frozen=True)
class Violation:
    """One policy diagnostic, as the engine would print it."""

    policy: str
    enforcement: str     # "mandatory" | "advisory"
    urn: str
    type: str
    name: str
    message: str
    # Filled for Kubernetes objects, for kind_ref(); optional so callers may omit them.
    kind: str = ""
    namespace: str | None = None
    object_name: str | None = None

    def kind_ref(self) -> str:
        """`Kind/namespace/name` ("_" for cluster-scoped); `stack` when no resource is named."""
        if not self.urn and not self.name:
            return "stack"
        kind = self.kind or (self.type.rsplit(":", 1)[-1] if self.type else "?")
        return f"{kind}/{self.namespace or '_'}/{self.object_name or self.name}"


# --------------------------------------------------------------------------- config

def load_stack_config(stack: str) -> dict:
    """The pack config of `policies/config/<stack>.json`."""
    path = CONFIG_DIR / f"{stack}.json"
    if not path.is_file():
        known = sorted(p.stem for p in CONFIG_DIR.glob("*.json"))
        raise PolicyRunError(f"stack: no policy config {path.relative_to(ROOT)} "
                             f"(known stacks: {', '.join(known) or 'none'})")
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except json.JSONDecodeError as err:
        raise PolicyRunError(f"{path.relative_to(ROOT)}: invalid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(data, dict):
        raise PolicyRunError(f"{path.relative_to(ROOT)}: must be a JSON object")
    return data


def parse_pack_config(raw: dict) -> dict[str, tuple[str | None, dict]]:
    """`--policy-pack-config` JSON -> {policy: (enforcement level or None, properties)}.

    Same rules as the CLI: a value is a level string or an object whose optional
    `enforcementLevel` is a level and whose other keys are properties.
    """
    parsed: dict[str, tuple[str | None, dict]] = {}
    for key, value in raw.items():
        if isinstance(value, str):
            level, props = value, {}
        elif isinstance(value, dict):
            props = dict(value)
            level = props.pop("enforcementLevel", None)
            if level is not None and not isinstance(level, str):
                raise PolicyRunError(f"{key}.enforcementLevel: must be a string")
        else:
            raise PolicyRunError(f"{key}: must be an enforcement level string or an object")
        if level is not None and level not in ENFORCEMENT_LEVELS:
            raise PolicyRunError(f"{key}: {level!r} is not an enforcement level "
                                 f"({', '.join(ENFORCEMENT_LEVELS)})")
        if level is None and not props:
            continue
        parsed[key] = (level, props)
    return parsed


def reconcile_config(policies: list[dict], raw: dict) -> dict[str, tuple[str, dict]]:
    """Effective config per policy, as the CLI computes it before `Configure`.

    `policies`: [{"name", "enforcement", "schema": {"properties", "required"}}].
    Schema defaults first, then the `"all"` level, then per-policy values; the result
    is validated against each policy's schema and all errors are reported together.
    """
    import jsonschema  # dev dependency; only needed here

    given = parse_pack_config(raw)
    result: dict[str, tuple[str, dict]] = {}
    for p in policies:
        defaults = {k: copy.deepcopy(v["default"]) for k, v in p["schema"]["properties"].items()
                    if "default" in v}
        result[p["name"]] = (p["enforcement"], defaults)
    names = set(result)
    unknown = sorted(k for k in given if k != "all" and k not in names)
    if unknown:
        raise PolicyRunError(f"policy config: unknown policy {', '.join(map(repr, unknown))} "
                             f"(policies: {', '.join(sorted(names))})")
    all_level = given.get("all", (None, {}))[0]
    if all_level:
        result = {n: (all_level, props) for n, (_, props) in result.items()}
    for name, (level, props) in given.items():
        if name == "all":
            continue
        cur_level, cur_props = result[name]
        result[name] = (level or cur_level, {**cur_props, **props})
    errors = []
    for p in policies:
        schema = {"type": "object", "properties": p["schema"]["properties"]}
        if p["schema"].get("required"):
            schema["required"] = p["schema"]["required"]
        for err in jsonschema.Draft7Validator(schema).iter_errors(result[p["name"]][1]):
            where = ".".join(str(x) for x in err.absolute_path)
            errors.append(f"{p['name']}{'.' + where if where else ''}: {err.message}")
    if errors:
        raise PolicyRunError("invalid policy config:\n  " + "\n  ".join(sorted(errors)))
    return result


def expand_only(only: Iterable[str] | None) -> set[str] | None:
    """Policy names from names and group names (e.g. `pod-security`); None = all."""
    if only is None:
        return None
    if str(PACK_DIR) not in sys.path:
        sys.path.insert(0, str(PACK_DIR))
    from guardrails import (  # the pack's own list, one source
        POLICY_GROUPS,
        POLICY_NAMES,
        SUPPORT_POLICIES,
    )

    selected: set[str] = set(SUPPORT_POLICIES)
    unknown = []
    for item in only:
        item = item.strip()
        if not item:
            continue
        if item in POLICY_GROUPS:
            selected.update(POLICY_GROUPS[item])
        elif item in POLICY_NAMES:
            selected.add(item)
        else:
            unknown.append(item)
    if unknown:
        raise PolicyRunError(f"only: unknown policy or group {', '.join(map(repr, unknown))} "
                             f"(policies: {', '.join(POLICY_NAMES)}; groups: {', '.join(POLICY_GROUPS)})")
    if not selected:
        raise PolicyRunError("only: no policy named")
    return selected


# --------------------------------------------------------------------------- server

class AnalyzerProcess:
    """The policy pack's analyzer server, started like the CLI starts it; a context manager."""

    def __init__(self, pack_dir: Path = PACK_DIR, *, command: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        """command: another analyzer to start instead (it must print its port, as the pack
        does); env: variables added to the analyzer's environment (the engine adds the stack's
        PULUMI_CONFIG, PULUMI_PROJECT, ...; see tools/bench/engine_calls.py)."""
        self.pack_dir = pack_dir
        self.command = command or [sys.executable, "-u", "-m", "pulumi.policy", ENGINE_PLACEHOLDER, str(pack_dir)]
        self.extra_env = env or {}
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.channel: grpc.Channel | None = None
        self.stub: AnalyzerStub | None = None
        self._stderr = tempfile.TemporaryFile()

    @property
    def client(self) -> AnalyzerStub:
        """The gRPC stub of the running analyzer (inside `with`)."""
        if self.stub is None:
            raise PolicyRunError("analyzer: not running — call it inside `with AnalyzerProcess(...)`")
        return self.stub

    @property
    def pid(self) -> int:
        """The process id of the running analyzer (inside `with`)."""
        if self.proc is None:
            raise PolicyRunError("analyzer: not running — call it inside `with AnalyzerProcess(...)`")
        return self.proc.pid

    def __enter__(self) -> AnalyzerProcess:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _start(self) -> None:
        import grpc
        from pulumi.runtime.proto import analyzer_pb2_grpc

        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("PULUMI_CONFIG", None)  # the pack needs no program config; keep secrets out
        env.update(self.extra_env)
        self.proc = owned(subprocess.Popen(  # ended on Ctrl-C too (tools/cli.py)
            self.command, cwd=self.pack_dir, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=self._stderr,
        ))
        self.port = port = self._read_port()
        # Keep draining stdout so a chatty pack can never block on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        self.channel = grpc.insecure_channel(
            f"127.0.0.1:{port}",
            options=[("grpc.max_receive_message_length", _MAX_MESSAGE),
                     ("grpc.max_send_message_length", _MAX_MESSAGE)])
        grpc.channel_ready_future(self.channel).result(timeout=START_TIMEOUT_S)
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)

    def _read_port(self) -> int:
        assert self.proc and self.proc.stdout
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + START_TIMEOUT_S
        line = b""
        try:
            while not line.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(timeout=left):
                    raise PolicyRunError(f"policy pack did not print its port within {START_TIMEOUT_S:.0f}s"
                                         + self._stderr_tail())
                chunk = os.read(self.proc.stdout.fileno(), 1)
                if not chunk:
                    raise PolicyRunError("policy pack exited before serving" + self._stderr_tail())
                line += chunk
        finally:
            sel.close()
        try:
            return int(line.strip())
        except ValueError:
            raise PolicyRunError(f"policy pack printed {line.strip()[:80]!r} instead of a port"
                                 + self._stderr_tail()) from None

    def _drain(self) -> None:
        stream = self.proc.stdout if self.proc else None
        try:
            while stream and stream.read(65536):
                pass
        except (OSError, ValueError):
            pass

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace").strip()
        return f":\n{text[-2000:]}" if text else ""

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            if self.proc.stdout:
                self.proc.stdout.close()
            disowned(self.proc)
            self.proc = None
        self._stderr.close()


# --------------------------------------------------------------------------- requests

def struct_message(props: Any):
    """A resource's properties as the protobuf Struct the engine sends."""
    from google.protobuf import struct_pb2

    s = struct_pb2.Struct()
    # JSON round trip: YAML dates and other non-JSON scalars become strings, as on the wire.
    s.update(json.loads(json.dumps(props if isinstance(props, dict) else {}, default=str)))
    return s


def provider_message(ref: str | None):
    """The AnalyzerProviderResource for a provider reference (`urn::id`), None without one."""
    from pulumi.runtime.proto import analyzer_pb2

    if not ref:
        return None
    urn = ref.rsplit("::", 1)[0] if ref.count("::") > 3 else ref
    parts = urn.split("::")
    # Provider properties (a kubeconfig) are secret; the pack does not need them.
    return analyzer_pb2.AnalyzerProviderResource(
        type=parts[-2] if len(parts) >= 2 else "", urn=urn, name=parts[-1])


def _check_input(resources: list[dict]) -> None:
    if not isinstance(resources, list):
        raise PolicyRunError("resources: must be a list of resource dicts")
    seen: set[str] = set()
    for i, r in enumerate(resources):
        if not isinstance(r, dict):
            raise PolicyRunError(f"resources[{i}]: must be a dict")
        for key in ("urn", "type", "name"):
            if not isinstance(r.get(key), str) or not r.get(key):
                raise PolicyRunError(f"resources[{i}].{key}: missing or not a string")
        if not isinstance(r.get("properties", {}), dict):
            raise PolicyRunError(f"resources[{i}].properties: must be a dict")
        if r["urn"] in seen:
            raise PolicyRunError(f"resources[{i}].urn: duplicate {r['urn']}")
        seen.add(r["urn"])


def _violation(diag: Any, fallback_urn: str, by_urn: dict[str, dict], descriptions: dict[str, str]) -> Violation:
    urn = diag.urn or fallback_urn
    res = by_urn.get(urn, {})
    props = res.get("properties") or {}
    meta = props.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
    prefix = descriptions.get(diag.policyName, diag.description) + "\n"
    message = diag.message[len(prefix):] if diag.message.startswith(prefix) else diag.message
    return Violation(
        policy=diag.policyName,
        enforcement=_LEVEL_NAMES.get(diag.enforcementLevel, "advisory"),
        urn=urn, type=res.get("type", ""), name=res.get("name", ""), message=message,
        kind=str(props.get("kind") or ""), namespace=meta.get("namespace"),
        object_name=meta.get("name"),
    )


@contextlib.contextmanager
def configured_analyzer(raw_config: dict, selected: set[str] | None = None, *,
                        env: dict[str, str] | None = None) -> Iterator[tuple[AnalyzerProcess, dict[str, str]]]:
    """The pack's analyzer, started and configured as the CLI does (GetAnalyzerInfo, then
    Configure with `raw_config` reconciled; policies outside `selected` disabled): yields
    it and {policy name: description}; stopped on exit."""
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import analyzer_pb2

    with AnalyzerProcess(env=env) as server:
        info = server.client.GetAnalyzerInfo(empty_pb2.Empty())
        policies = [{
            "name": p.name,
            "enforcement": _LEVEL_NAMES[p.enforcementLevel],
            "schema": {"properties": _to_py(p.configSchema.properties),
                       "required": list(p.configSchema.required)},
        } for p in info.policies]
        effective = reconcile_config(policies, raw_config)
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, (level, props) in effective.items():
            if selected is not None and name not in selected:
                level = "disabled"
            request.policyConfig[name].CopyFrom(
                analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.EnforcementLevel.Value(level.upper()),
                                          properties=struct_message(props)))
        server.client.Configure(request)
        yield server, {p.name: p.description for p in info.policies}


def check_resources(resources: list[dict], *, stack: str | None = None, config: dict | None = None,
                    only: set[str] | None = None, timings: dict[str, float] | None = None,
                    outputs_unknown: frozenset[str] | set[str] = frozenset()) -> list[Violation]:
    """Policy violations for `resources` (the engine's view of a stack).

    resources: [{"urn", "type", "name", "properties" (wire form), "parent", "dependencies",
                 "provider"}]. stack: selects policies/config/<stack>.json when `config` is
    None; config: a --policy-pack-config object; neither = pack defaults (all mandatory).
    only: policy names and/or groups to run (others disabled). timings: filled with the
    seconds of each phase ("start": analyzer up and configured, "analyze": the Analyze
    calls, "stack": AnalyzeStack) and, where /proc is readable, "analyzer_cpu": the CPU
    seconds the analyzer spent on both. outputs_unknown: URNs whose outputs the engine does not
    know (their provider is not configured in a fresh preview): `Analyze` gets their inputs,
    `AnalyzeStack` empty properties, as the real engine sends them. Raises PolicyRunError on
    bad input, naming the field.
    """
    from pulumi.runtime.proto import analyzer_pb2

    _check_input(resources)
    selected = expand_only(only)
    raw_config = config if config is not None else (load_stack_config(stack) if stack else {})
    if not isinstance(raw_config, dict):
        raise PolicyRunError("config: must be a dict in --policy-pack-config format")
    by_urn = {r["urn"]: r for r in resources}
    violations: list[Violation] = []

    timings = {} if timings is None else timings
    started = time.perf_counter()
    with configured_analyzer(raw_config, selected) as (server, descriptions), _collector_paused():
        timings["start"] = time.perf_counter() - started
        started = time.perf_counter()
        analyzer_cpu = cpu_seconds(server.pid)

        # Each resource is encoded once, for its Analyze and for AnalyzeStack; the stack
        # request is assembled while the analyzer answers the Analyze calls in flight.
        stack_resources = []
        pending: deque = deque()
        for r in resources:
            properties = struct_message(r.get("properties"))
            options = analyzer_pb2.AnalyzerResourceOptions(parent=r.get("parent") or "")
            provider = provider_message(r.get("provider"))
            pending.append((r["urn"], server.client.Analyze.future(analyzer_pb2.AnalyzeRequest(
                type=r["type"], urn=r["urn"], name=r["name"], properties=properties,
                options=options, provider=provider))))
            outputs = struct_message({}) if r["urn"] in outputs_unknown else properties
            stack_resources.append(analyzer_pb2.AnalyzerResource(
                type=r["type"], urn=r["urn"], name=r["name"], properties=outputs,
                options=options, provider=provider,
                parent=r.get("parent") or "", dependencies=list(r.get("dependencies") or [])))
            if len(pending) >= _IN_FLIGHT:
                urn, fut = pending.popleft()
                violations += [_violation(d, urn, by_urn, descriptions) for d in fut.result().diagnostics]
        while pending:
            urn, fut = pending.popleft()
            violations += [_violation(d, urn, by_urn, descriptions) for d in fut.result().diagnostics]

        timings["analyze"] = time.perf_counter() - started
        started = time.perf_counter()
        stack_request = analyzer_pb2.AnalyzeStackRequest(resources=stack_resources)
        for d in server.client.AnalyzeStack(stack_request).diagnostics:
            violations.append(_violation(d, "", by_urn, descriptions))
        timings["stack"] = time.perf_counter() - started
        if analyzer_cpu is not None:
            timings["analyzer_cpu"] = (cpu_seconds(server.pid) or analyzer_cpu) - analyzer_cpu
    return violations


@contextlib.contextmanager
def _collector_paused():
    """The cyclic garbage collector off while talking to the analyzer, back as it was after.

    The conversation allocates two messages per resource and keeps the stack request's
    until the end; in a caller holding a large heap (the plan at 1,000 tenants) each full
    collection would walk all of it again. Nothing here makes cycles; refcounting frees the
    rest as usual.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process (Linux /proc), None where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _to_py(struct_field: Any) -> Any:
    from google.protobuf import json_format

    return json.loads(json_format.MessageToJson(struct_field)) if struct_field is not None else {}


# --------------------------------------------------------------------------- manifests

def type_token(api_version: str, kind: str) -> str:
    """`kubernetes:<group>/<version>:<Kind>` as pulumi-kubernetes names it (core group = "core")."""
    group, _, version = api_version.rpartition("/")
    return f"kubernetes:{group or 'core'}/{version}:{kind}"


def manifest_resources(docs: Iterable[Any], *, stack: str = "manifests",
                       sources: list[str] | None = None) -> list[dict]:
    """Resource dicts (see check_resources) for parsed Kubernetes manifests.

    `docs` are parsed YAML documents (None documents are skipped; `kind: List` is
    expanded). `sources`, parallel to `docs`, names where each came from for errors.
    URNs look like urn:pulumi:<stack>::k3s-platform::kubernetes:core/v1:Pod::<ns>/<name>.
    """
    out: list[dict] = []
    seen: dict[str, int] = {}
    for i, doc in enumerate(docs):
        where = sources[i] if sources and i < len(sources) else f"document {i}"
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise PolicyRunError(f"{where}: not a Kubernetes object (a YAML mapping)")
        items = doc.get("items")
        if not (str(doc.get("kind", "")).endswith("List") and isinstance(items, list)):
            items = [doc]
        for j, obj in enumerate(items):
            at = where if len(items) == 1 else f"{where} items[{j}]"
            if not isinstance(obj, dict):
                raise PolicyRunError(f"{at}: not a Kubernetes object (a YAML mapping)")
            api_version, kind = obj.get("apiVersion"), obj.get("kind")
            if not isinstance(api_version, str) or not api_version:
                raise PolicyRunError(f"{at}: apiVersion is missing")
            if not isinstance(kind, str) or not kind:
                raise PolicyRunError(f"{at}: kind is missing")
            meta = obj.get("metadata")
            if not isinstance(meta, dict):
                meta = {}
            name = str(meta.get("name") or meta.get("generateName") or f"unnamed-{len(out)}")
            namespace = meta.get("namespace")
            rname = f"{namespace}/{name}" if namespace else name
            rtype = type_token(api_version, kind)
            urn = f"urn:pulumi:{stack}::{PROJECT}::{rtype}::{rname}"
            if urn in seen:  # the same object twice (two files): keep both, distinct URNs
                seen[urn] += 1
                urn = f"{urn}#{seen[urn]}"
            else:
                seen[urn] = 1
            out.append({"urn": urn, "type": rtype, "name": rname, "properties": obj,
                        "parent": None, "dependencies": [], "provider": None})
    return out
