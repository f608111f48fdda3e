"""Entry points: raw stack config in, a frozen `StackConfig` (or every problem at once) out.

`parse_stack_config(raw)` is pure: a mapping of config keys (without the project prefix) to
plain values in, a frozen `StackConfig` out, or a `ConfigError` that lists every problem at
once as `dotted.key: what is wrong — how to fix`. `read_stack_config()` is the thin edge that
collects the raw values (and the secrets, as secret Outputs) from the Pulumi runtime — the
only code that reads `pulumi.Config`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

from components.config.stack import StackConfig, cross_check
from components.config.types import ConfigError

PROJECT = "k3s-platform"
# Config namespaces that are not this project's but legitimately appear in a stack file:
# the engine's own (`pulumi:`) and those of the providers the program uses.
PROVIDER_NAMESPACES = frozenset({"pulumi", "kubernetes", "command", "tls", "random"})

# Secret keys: read with require_secret, never part of the typed model.
SECRET_KEYS = ("sshPrivateKey", "pfsenseApiKey", "dashboardPassword")
# Optional secret maps, each leaf set with `pulumi config set --secret --path 'key.leaf' ...`:
# only their shape is checked here (never a value in a message), and only the settings that
# use them read them.
SECRET_MAPS = {
    "etcdS3Credentials": "cluster.etcdSnapshots.s3",
    "registryAuth": "cluster.registries.configs.<host>.auth",
}
_S3_FIELDS = ("accessKey", "secretKey")
_REGISTRY_FIELDS = ("username", "password")
# Keys whose raw value is a plain string (everything else is structured YAML/JSON).
STRING_KEYS = ("domain",)


# --- pydantic errors -> dotted keys ------------------------------------------------------

_HINTS = {
    "missing": "is required — add it to the stack config",
    "extra_forbidden": "is not a known key — remove it or check its spelling",
    "ip_v4_address": "is not a valid IPv4 address — write four dotted numbers, e.g. 192.168.10.11",
    "ip_v4_network": "is not a valid IPv4 network — write it as address/prefix with host bits zero, e.g. 192.168.10.0/24",
    "literal_error": None,
    "too_short": None,
}


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _message(err: ErrorDetails) -> str:
    hint = _HINTS.get(err["type"])
    if hint:
        if err["type"] in ("ip_v4_address", "ip_v4_network"):
            return f"{err.get('input')!r} {hint}"
        return hint
    msg = err["msg"]
    # pydantic prefixes our own ValueErrors; keep only our words.
    msg = msg.removeprefix("Value error, ")
    if "—" not in msg:
        msg += " — fix the value"
    return msg


def _format_validation_error(exc: ValidationError, prefix: str = "") -> list[str]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p and "]" in p))
        key = _dotted(loc)
        if prefix:
            key = prefix + ("" if not key else key if key.startswith("[") else f".{key}")
        problems.append(f"{key or '(root)'}: {_message(err)}")
    return problems


# --- entry points ------------------------------------------------------------------------


def _parse_sections(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Validate each top-level section on its own; return those that parsed, and the errors."""
    sections: dict[str, Any] = {}
    problems: list[str] = []
    fields = {to_camel(name): (name, info) for name, info in StackConfig.model_fields.items()}
    for key in data:
        if key not in fields:
            problems.append(f"{key}: {_HINTS['extra_forbidden']}")
    for key, (name, info) in fields.items():
        if key not in data:
            if info.is_required():
                problems.append(f"{key}: {_HINTS['missing']}")
            else:
                sections[name] = info.get_default(call_default_factory=True)
            continue
        try:
            # The field's own constraints (validators, lengths) travel in its metadata; a
            # TypeAdapter of the bare annotation would drop them.
            annotated = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
            sections[name] = TypeAdapter(annotated).validate_python(data[key])
        except ValidationError as exc:
            problems += _format_validation_error(exc, prefix=key)
    return sections, problems


def parse_stack_config(raw: Mapping[str, Any], *, problems: list[str] | None = None) -> StackConfig:
    """Validate raw stack config (keys without the `k3s-platform:` prefix).

    Every problem is reported at once: `problems` found before (e.g. by `split_keys`), field
    errors of every section, then every cross-field rule whose sections parsed.
    """
    data = {k: v for k, v in raw.items() if k not in SECRET_KEYS and k not in SECRET_MAPS}
    sections, found = _parse_sections(data)
    found = list(problems or ()) + found + cross_check(sections) + secret_map_problems(raw, sections)
    if found:
        raise ConfigError(list(dict.fromkeys(found)))
    return StackConfig.model_validate(data)


def _map_shape(key: str, value: Any, fields: tuple[str, ...]) -> list[str]:
    """Problems with one secret map entry's keys and kinds; values are never quoted."""
    if not isinstance(value, Mapping):
        return [f"{key}: not a map — set each field with `pulumi config set --secret --path "
                f"'{key}.{fields[0]}' ...`"]
    out = [f"{key}.{f}: is required — set it with `pulumi config set --secret --path '{key}.{f}' ...`"
           for f in fields if f not in value]
    out += [f"{key}.{f}: is not a known key — the fields are {', '.join(fields)}" for f in value if f not in fields]
    out += [f"{key}.{f}: must be a non-empty string" for f in fields
            if f in value and not (isinstance(value[f], str) and value[f])]
    return out


def secret_map_problems(raw: Mapping[str, Any], sections: Mapping[str, Any]) -> list[str]:
    """The secret maps match the settings that read them: present exactly when used, with the
    fields each use needs."""
    cluster = sections.get("cluster")
    if cluster is None:
        return []
    out: list[str] = []
    s3 = cluster.etcd_snapshots.s3
    if s3 is not None and "etcdS3Credentials" not in raw:
        out.append("etcdS3Credentials: is required by cluster.etcdSnapshots.s3 — set it with `pulumi config "
                   "set --secret --path 'etcdS3Credentials.accessKey' ...` (and secretKey)")
    elif "etcdS3Credentials" in raw:
        if s3 is None:
            out.append("etcdS3Credentials: set but cluster.etcdSnapshots.s3 is not — remove it or configure s3")
        else:
            out += _map_shape("etcdS3Credentials", raw["etcdS3Credentials"], _S3_FIELDS)
    configs = cluster.registries.configs if cluster.registries is not None else {}
    wanted = sorted(host for host, c in configs.items() if c.auth)
    given = raw.get("registryAuth", {})
    if not isinstance(given, Mapping):
        return out + ["registryAuth: not a map — set `pulumi config set --secret --path "
                      "'registryAuth.<host>.password' ...` per registry host"]
    for host in wanted:
        if host not in given:
            out.append(f"registryAuth.{host}: is required by cluster.registries.configs.{host}.auth — set "
                       f"`pulumi config set --secret --path 'registryAuth[\"{host}\"].username' ...` (and password)")
        else:
            out += _map_shape(f"registryAuth.{host}", given[host], _REGISTRY_FIELDS)
    for host in sorted(set(given) - set(wanted)):
        out.append(f"registryAuth.{host}: no cluster.registries.configs.{host} with auth: true uses it — "
                   "remove it, or set that auth")
    return out


def secret_map_placeholders(raw: Mapping[str, Any]) -> dict[str, dict]:
    """Offline stand-ins for the secret maps the settings in `raw` (bare keys) would read:
    the plan fills the secrets a stack file cannot give without its passphrase (tools/imitations/harness.py)."""
    found = raw.get("cluster")
    cluster: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    out: dict[str, dict] = {}
    snapshots = cluster.get("etcdSnapshots")
    if isinstance(snapshots, Mapping) and snapshots.get("s3") is not None:
        out["etcdS3Credentials"] = {f: f"placeholder-etcdS3Credentials.{f}" for f in _S3_FIELDS}
    registries = cluster.get("registries")
    configs = registries.get("configs") if isinstance(registries, Mapping) else None
    if isinstance(configs, Mapping):
        hosts = [h for h, c in configs.items() if isinstance(c, Mapping) and c.get("auth") is True]
        if hosts:
            out["registryAuth"] = {h: {f: f"placeholder-registryAuth.{f}" for f in _REGISTRY_FIELDS} for h in hosts}
    return out


def split_keys(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Full config keys (`namespace:key`) -> (this project's values by bare key, problems).

    A key whose namespace is neither the project's nor a known provider's is almost always
    a misspelled project name, which Pulumi would otherwise ignore without a word.
    """
    raw: dict[str, Any] = {}
    problems: list[str] = []
    for full_key in sorted(values):
        namespace, sep, key = full_key.partition(":")
        if sep and namespace == PROJECT:
            raw[key] = values[full_key]
        elif not sep or namespace not in PROVIDER_NAMESPACES:
            problems.append(
                f"{full_key}: {namespace!r} is neither this project's config namespace nor a "
                f"provider's — write the key as {PROJECT}:{key or namespace}"
            )
    return raw, problems


def parse_config_keys(values: Mapping[str, Any]) -> StackConfig:
    """Validate a stack's config as the CLI holds it: full keys, plain values."""
    raw, problems = split_keys(values)
    return parse_stack_config(raw, problems=problems)


@dataclass(frozen=True)
class Secrets:
    """Secret config values as secret Outputs; they never enter the typed model."""

    ssh_private_key: Any
    pfsense_api_key: Any
    dashboard_password: Any
    # Secret maps (SECRET_MAPS) as secret Outputs of dicts; None when the stack has none.
    etcd_s3_credentials: Any = None
    registry_auth: Any = None


def program_value(key: str, text: Any) -> Any:
    """A config value as the program reads it: JSON text decoded, except for string keys."""
    if key in STRING_KEYS or not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def read_stack_config() -> tuple[StackConfig, Secrets]:
    """Read and validate this stack's config from the Pulumi runtime."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    prefix = f"{PROJECT}:"
    # pulumi.Config can only look keys up, not list them; the runtime's config map (set by
    # the language host) and PULUMI_CONFIG (older hosts) hold every key, so unknown
    # top-level keys are caught like unknown nested ones.
    present = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    values = {}
    for full_key in sorted(present):
        key = full_key[len(prefix):] if full_key.startswith(prefix) else full_key
        values[full_key] = program_value(key, runtime_config.get_config(full_key))
    cfg = parse_config_keys(values)
    conf = pulumi.Config(PROJECT)
    secrets = Secrets(
        ssh_private_key=conf.require_secret("sshPrivateKey"),
        pfsense_api_key=conf.require_secret("pfsenseApiKey"),
        dashboard_password=conf.require_secret("dashboardPassword"),
        etcd_s3_credentials=conf.get_secret_object("etcdS3Credentials"),
        registry_auth=conf.get_secret_object("registryAuth"),
    )
    return cfg, secrets


