"""Run the Pulumi program offline, under Pulumi's mocks, and capture what the engine would see.

`run_stack(stack)` loads `Pulumi.<stack>.yaml` (or any file of that format) the way the CLI
does — project defaults from `Pulumi.yaml`, then the stack's values — runs `__main__.py`'s
`main()` under `pulumi.runtime.set_mocks`, and returns every resource registration as the
engine receives it: type, name, parent, explicit and implied dependencies, provider and the
wire-form inputs (camelCase for Kubernetes objects), with secrets still marked.

`run_stack(..., fresh_preview=True)` runs it as a first `pulumi preview` of a new stack does:
the SDK is told it is previewing and every custom resource echoes only its inputs, so each
provider-computed output (ids, command stdout, generated keys) stays unknown downstream.

Secrets that are absent or encrypted (`secure:`) become placeholders, so the plan works on a
fresh clone with no passphrase. Each run uses a fresh `contextvars.Context`, so several
stacks can run in one process (tests, benchmarks).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from components import go_yaml, names, safe_yaml
from tools.paths import ROOT
from tools.stack_file import StackFileError, read_stack_file

PROJECT = "k3s-platform"
SECRET = "[secret]"

class ConfigFileError(Exception):
    """The stack file cannot be read (missing, not UTF-8, not YAML, no `config:` map)."""


# --- config -------------------------------------------------------------------------------


def project_declarations() -> dict[str, dict]:
    path = ROOT / "Pulumi.yaml"
    try:
        doc = safe_yaml.load(path.read_text(), source=str(path)) or {}
    except safe_yaml.YamlError as exc:
        raise ConfigFileError(str(exc)) from None
    return doc.get("config") or {}


def load_config_file(stack: str, config_file: str | Path | None = None) -> tuple[dict[str, Any], set[str]]:
    """Config as the CLI would hand it to the program: (values by full key, secret keys)."""
    path = Path(config_file) if config_file else ROOT / f"Pulumi.{stack}.yaml"
    if path.exists() and not path.is_file():  # a FIFO would block the read forever
        raise ConfigFileError(f"{path}: not a regular file — pass a stack config file (Pulumi.<stack>.yaml format)")
    if not path.is_file():
        raise ConfigFileError(f"{path}: no such stack config file — create it or pass --config-file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigFileError(
            f"{path}: not UTF-8 (byte 0x{exc.object[exc.start]:02x} on line {line}) — save the file as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read ({exc.__class__.__name__}) — check the file") from None
    declarations = project_declarations()
    declared_secret = {_full_key(k) for k, d in declarations.items() if isinstance(d, dict) and d.get("secret")}
    try:
        # As the CLI reads it: yaml.v3 rules, keys `namespace:name`, declared secrets encrypted.
        stack_values, encrypted = read_stack_file(text, source=str(path), secret_keys=declared_secret)
    except (safe_yaml.YamlError, StackFileError, go_yaml.GoYamlError) as exc:
        raise ConfigFileError(str(exc)) from None

    values: dict[str, Any] = {}
    secret_keys: set[str] = set(declared_secret)
    for key, decl in declarations.items():
        full = _full_key(key)
        if isinstance(decl, dict):
            if "default" in decl:
                values[full] = decl["default"]
        else:
            values[full] = decl
    for full, value in stack_values.items():
        if full in encrypted:
            secret_keys.add(full)
            if isinstance(value, dict) and set(value) == {"secure"}:
                # encrypted: no passphrase offline, a placeholder stands in — one per ciphertext,
                # so a secret set to a new value is a changed input in the change mode, as in
                # the engine
                values[full] = _placeholder(full.split(":", 1)[1], value["secure"])
                continue
            # `pulumi config set --secret --path`: the CLI hands the program the whole key as a
            # secret; offline each encrypted leaf gets a placeholder.
            value = _placeholder_leaves(value, full.split(":", 1)[1])
        values[full] = value
    for full in secret_keys:
        # Placeholders only; the real values live encrypted in the stack file.
        values.setdefault(full, f"placeholder-{full.split(':', 1)[1]}")
    from components.config.parse import secret_map_placeholders

    bare = {k.split(":", 1)[1]: v for k, v in values.items() if k.startswith(f"{PROJECT}:")}
    for key, placeholder in secret_map_placeholders(bare).items():
        full = f"{PROJECT}:{key}"
        if full not in values:  # set with `pulumi config set --secret --path`, kept in the stack's secrets
            values[full] = placeholder
            secret_keys.add(full)
    return values, secret_keys


def _full_key(key: str) -> str:
    return key if ":" in key else f"{PROJECT}:{key}"


def _placeholder(path: str, ciphertext: Any) -> str:
    """The offline stand-in of an encrypted value: named for its key, distinct per ciphertext
    (a value set again with `pulumi config set --secret` gets a new ciphertext and so counts
    as changed offline although the engine, which decrypts, sees the same value)."""
    digest = hashlib.sha256(str(ciphertext).encode()).hexdigest()[:12]
    return f"placeholder-{path}-{digest}"


def _placeholder_leaves(value: Any, path: str) -> Any:
    if isinstance(value, dict) and set(value) == {"secure"}:
        return _placeholder(path, value["secure"])
    if isinstance(value, dict):
        return {k: _placeholder_leaves(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholder_leaves(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def stack_config(stack: str, config_file: str | Path | None = None):
    """The stack's validated config (`components.config.StackConfig`), as the program sees it."""
    from components.config import parse_config_keys
    from components.config.parse import program_value

    values, _ = load_config_file(stack, config_file)
    return parse_config_keys({k: program_value(k.partition(":")[2], v) for k, v in values.items()})


def _wire(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# --- mocks --------------------------------------------------------------------------------


def _fake(seed: str, n: int = 32) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def _fake_pem(kind: str, seed: str) -> str:
    return f"-----BEGIN {kind}-----\nMOCK{_fake(seed, 48)}\n-----END {kind}-----\n"


def mock_outputs(type_: str, name: str, inputs: dict) -> dict:
    """Deterministic stand-ins for what real providers compute."""
    out = dict(inputs)
    if type_ == "random:index/randomPassword:RandomPassword":
        out["result"] = _fake(name, int(inputs.get("length", 32)))
        out["bcryptHash"] = "$2a$10$" + _fake(name + "bcrypt", 53)
    elif type_ == "random:index/randomBytes:RandomBytes":
        raw = (_fake(name, 64) * (int(inputs.get("length", 32)) // 32 + 1))[: 2 * int(inputs.get("length", 32))]
        out["hex"] = raw
        out["base64"] = _fake(name + "b64", 44)
    elif type_ == "tls:index/privateKey:PrivateKey":
        out["privateKeyPem"] = _fake_pem("PRIVATE KEY", name)
        out["privateKeyOpenssh"] = _fake_pem("OPENSSH PRIVATE KEY", name)
        out["publicKeyPem"] = _fake_pem("PUBLIC KEY", name)
        out["publicKeyOpenssh"] = f"ssh-ed25519 MOCK{_fake(name)}"
    elif type_ in ("tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert"):
        out["certPem"] = _fake_pem("CERTIFICATE", name)
    elif type_ == "tls:index/certRequest:CertRequest":
        out["certRequestPem"] = _fake_pem("CERTIFICATE REQUEST", name)
    elif type_ == names.PFSENSE_OBJECT and inputs.get("kind") == "interface":
        # The interface id pfSense would pick (`optN`); a stand-in that names the device.
        payload = inputs.get("payload")
        device = payload.get("if") if isinstance(payload, dict) else None
        out["assignedId"] = f"opt<{device}>"
    elif type_ == names.REMOTE_COMMAND:
        if name.endswith(f"-{names.CAS_READ}"):  # certificateAuthorities: adopt — what k3s made
            from components.cluster import render
            out["stdout"] = render.ca_bundle({
                f: _fake_pem("PRIVATE KEY" if f.endswith(".key") else "CERTIFICATE", name + f)
                for f in render.ADOPTED_FILES})
        elif name.endswith(f"-{names.JOIN_TOKEN}"):
            out["stdout"] = f"K10{_fake(name, 64)}::server:{_fake(name + 'secret', 32)}"
        else:
            out["stdout"] = ""
        out["stderr"] = ""
    return out


def _mocks_class(fresh_preview: bool = False):
    import pulumi

    class PlanMocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs):
            if fresh_preview:
                # What the engine answers for a create during preview: no id, the inputs and
                # nothing the provider would compute (the SDK resolves those as unknown).
                return (None if args.custom else f"{args.name}-id"), dict(args.inputs)
            return f"{args.name}-id", mock_outputs(args.typ, args.name, args.inputs)

        def call(self, args: pulumi.runtime.MockCallArgs):
            return {}, None

    return PlanMocks


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    provider: str | None
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    inputs: dict  # wire form; secret values wrapped in Pulumi's secret signature
    protect: bool = False
    # Options the engine's step rules read (tools/imitations/engine_rules.py); not rendered.
    remote: bool = False  # a multi-language component the provider constructs (Construct)
    providers: dict[str, str] = field(default_factory=dict)  # package -> provider URN
    aliases: list[str] = field(default_factory=list)  # URNs this resource was known by
    replace_on_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    retain_on_delete: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    unknown_inputs: list[str] = field(default_factory=list)  # top-level keys holding an unknown


def _capturing_monitor(mocks, sink: list[Registration]):
    from pulumi.runtime import rpc
    from pulumi.runtime.mocks import MockMonitor

    class CapturingMonitor(MockMonitor):
        """Sees each RegisterResource request exactly as the engine would."""

        def RegisterResource(self, request):
            response = super().RegisterResource(request)
            if request.additionalSecretOutputs and response.object:
                response = self._mark_secret_outputs(request, response)
            if request.type != "pulumi:pulumi:Stack":
                sink.append(Registration(
                    urn=response.urn, type=request.type, name=request.name,
                    parent=request.parent or None, custom=bool(request.custom),
                    provider=request.provider.rpartition("::")[0] if request.provider else None,
                    dependencies=list(request.dependencies),
                    property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                    inputs=rpc.deserialize_properties(request.object),
                    protect=bool(request.protect),
                    remote=bool(request.remote),
                    providers={pkg: ref.rpartition("::")[0] for pkg, ref in request.providers.items()},
                    aliases=_alias_urns(request, self.make_urn),
                    replace_on_changes=list(request.replaceOnChanges),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    retain_on_delete=bool(request.retainOnDelete),
                    ignore_changes=list(request.ignoreChanges),
                    unknown_inputs=_unknown_keys(request.object),
                ))
            return response

        def make_urn(self, parent: str, type_: str, name: str) -> str:
            """The URN the engine gives (resource.NewURN): the parent's whole qualified type
            chain before the resource's own type, and nothing for the root Stack. The stock
            mock keeps only the parent's last type and prefixes the Stack's."""
            from pulumi.runtime.settings import get_project, get_stack

            if parent:
                qualified = parent.split("::")[2]
                if qualified != "pulumi:pulumi:Stack":
                    type_ = f"{qualified}${type_}"
            return "urn:pulumi:" + "::".join([get_stack(), get_project(), type_, name])

        @staticmethod
        def _mark_secret_outputs(request, response):
            """What the engine does and the stock mock monitor does not: outputs named in
            `additionalSecretOutputs` come back secret."""
            from pulumi.runtime.proto import resource_pb2
            from pulumi.runtime.sync_await import _sync_await

            state = rpc.deserialize_properties(response.object, keep_unknowns=True)
            for key in request.additionalSecretOutputs:
                if key in state and not rpc.is_rpc_secret(state[key]):
                    state[key] = rpc.wrap_rpc_secret(state[key])
            return resource_pb2.RegisterResourceResponse(
                urn=response.urn, id=response.id,
                object=_sync_await(rpc.serialize_properties(state, {})))

    return CapturingMonitor(mocks)


def _unknown_keys(struct) -> list[str]:
    """Top-level input keys whose value holds an unknown anywhere inside (as the engine's
    `PropertyValue.ContainsUnknowns` would say)."""
    from pulumi.runtime import rpc

    def holds(value) -> bool:
        if isinstance(value, str):
            return value == rpc.UNKNOWN
        if isinstance(value, dict):
            return any(holds(v) for v in value.values())
        if isinstance(value, list):
            return any(holds(v) for v in value)
        return False

    raw = json.loads(json_format.MessageToJson(struct)) if struct is not None else {}
    return sorted(k for k, v in raw.items() if holds(v))


def _alias_urns(request, make_urn) -> list[str]:
    """The URNs named by the request's aliases, filled in the way the engine fills an alias
    spec: unset name, type, stack, project and parent default to the resource's own."""
    from pulumi.runtime.settings import get_project, get_stack

    urns: list[str] = list(request.aliasURNs)
    for alias in request.aliases:
        if alias.urn:
            urns.append(alias.urn)
            continue
        spec = alias.spec
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        urn = make_urn(parent, spec.type or request.type, spec.name or request.name)
        if spec.stack or spec.project:
            _, _, qualified_type, name = urn.split("::", 3)
            urn = "::".join([f"urn:pulumi:{spec.stack or get_stack()}", spec.project or get_project(),
                             qualified_type, name])
        urns.append(urn)
    return urns


# --- running ------------------------------------------------------------------------------


@dataclass
class StackRun:
    stack: str
    registrations: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def by_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]


def _run_in_fresh_context(stack: str, values: dict, secret_keys: set[str], program,
                          fresh_preview: bool = False) -> StackRun:
    import pulumi
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    result = StackRun(stack)
    monitor = _capturing_monitor(_mocks_class(fresh_preview)(), result.registrations)
    pulumi.runtime.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=fresh_preview, monitor=monitor)
    pulumi.runtime.set_all_config({k: _wire(v) for k, v in values.items()}, sorted(secret_keys))

    def body():
        # A program may return an Output (tests assert inside apply): wait for it, as
        # pulumi.runtime.test does, so a failed assertion fails the run.
        returned = program()
        if returned is not None:
            result.outputs["returned"] = _sync_await(pulumi.Output.from_input(returned).future())

    _sync_await(run_pulumi_func(body))
    return result


def with_engine_urns(run: StackRun) -> StackRun:
    """`run` with every URN in the engine's form (resource.NewURN: the parent's whole type
    chain, no root Stack), whatever harness recorded it. Registrations made by an older
    harness (stock mock URNs: the parent's last type only) are rewritten, and so is every
    reference to them (parent, dependencies, provider); engine-form URNs are unchanged."""
    from dataclasses import replace

    table: dict[str, str] = {}

    def engine_urn(reg: Registration) -> str:
        head, _, rest = reg.urn.partition("::")
        project, _, _ = rest.partition("::")
        parent = table.get(reg.parent or "", reg.parent or "")
        qualified = reg.type
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != "pulumi:pulumi:Stack":
                qualified = f"{parent_type}${reg.type}"
        return f"{head}::{project}::{qualified}::{reg.name}"

    for reg in run.registrations:  # parents are registered before their children
        table[reg.urn] = engine_urn(reg)

    def urn(value: str | None) -> str | None:
        return table.get(value, value) if value else value

    regs = [replace(r, urn=table[r.urn], parent=urn(r.parent), provider=urn(r.provider),
                    dependencies=[table.get(d, d) for d in r.dependencies],
                    property_dependencies={k: [table.get(d, d) for d in v] for k, v in r.property_dependencies.items()},
                    providers={k: table.get(v, v) for k, v in r.providers.items()})
            for r in run.registrations]
    return StackRun(run.stack, regs, dict(run.outputs))


def run_stack(stack: str, config_file: str | Path | None = None, program=None,
              fresh_preview: bool = False) -> StackRun:
    """Run the program (default: `__main__.py`'s `main`) for `stack` under mocks; with
    `fresh_preview`, as the first `pulumi preview` of a new stack (outputs unknown)."""
    values, secret_keys = load_config_file(stack, config_file)
    if program is None:
        program = runpy.run_path(str(ROOT / "__main__.py"), run_name="k3s_platform_plan")["main"]
    return contextvars.Context().run(_run_in_fresh_context, stack, values, secret_keys, program, fresh_preview)


# --- secret-aware helpers -------------------------------------------------------------------


def redact(value: Any) -> Any:
    """Replace every secret (and unknown) value by `[secret]`; unwrap nothing else. A secret
    map keeps its keys (a Secret's `stringData` stays a map of the keys it holds, as the API
    server and a reviewer expect); only the values under them are masked."""
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return _masked(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    return SECRET
