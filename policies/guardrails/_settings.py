"""How a policy declares its config: one `Setting` per key, in the module's `SETTINGS`.

A setting is written once — its default, the JSON schema of its value and its description —
and everything else is derived from it: the policy's `config_schema` (`schema`), the values
the CLI fills in when a stack's pack config is silent (`defaults`, also read by
tools/pack_settings.py), and the config a check receives (`merged`, called by the policy
builders in `_k8s`, and by whoever calls a check directly). Checks never merge themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One config key of a policy."""

    default: Any
    schema: Mapping[str, Any]   # JSON schema of the value, without "default"/"description"
    description: str


Settings = Mapping[str, Setting]


def defaults(settings: Settings) -> dict[str, Any]:
    return {key: s.default for key, s in settings.items()}


def schema(settings: Settings) -> dict[str, dict[str, Any]]:
    """`config_schema` properties: each key's own schema plus its default and description."""
    return {key: {**s.schema, "default": s.default, "description": s.description}
            for key, s in settings.items()}


def merged(settings: Settings, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The defaults, overridden by the given config's values (a `None` value keeps the default).

    The CLI fills schema defaults before `Configure`, so in a real run this changes nothing;
    it keeps a check correct without any config (direct calls, tests). Defaults are shared,
    not copied: checks only read their config, and this runs once per resource.
    """
    result = defaults(settings)
    if config:
        result.update({k: v for k, v in dict(config).items() if v is not None})
    return result
