"""Each policy declares its config once, in its module's `SETTINGS` (guardrails/_settings.py):
the `config_schema` the engine validates stack configs against is exactly what the settings
say, every default is valid under its own schema, and every setting says what it is for."""

from __future__ import annotations

import importlib
import pkgutil

import guardrails
import jsonschema
import pytest
from guardrails._settings import Setting, merged


def policy_modules() -> list[str]:
    """Every module of the pack that builds a policy (found, so a new one cannot be missed)."""
    names = [m.name for m in pkgutil.iter_modules(guardrails.__path__)]
    return sorted(n for n in names if hasattr(importlib.import_module(f"guardrails.{n}"), "POLICY"))


def test_the_policy_modules_are_the_pack():
    modules = [importlib.import_module(f"guardrails.{n}") for n in policy_modules()]
    assert sorted(m.POLICY.name for m in modules) == sorted(guardrails.POLICY_NAMES)


@pytest.mark.parametrize("name", policy_modules())
def test_the_config_schema_is_derived_from_the_settings(name):
    module = importlib.import_module(f"guardrails.{name}")
    # The settings are the only declaration: no second table to keep in step.
    assert not {"DEFAULTS", "_DESCRIPTIONS", "_TYPES"} & set(vars(module)), name
    settings = getattr(module, "SETTINGS", None)
    if settings is None:  # a policy without config (stack-policy-inputs)
        assert module.POLICY.config_schema is None
        return
    assert settings and all(isinstance(s, Setting) for s in settings.values())
    for key, s in settings.items():
        assert isinstance(s.description, str) and s.description.strip(), f"{name}.{key}: no description"
        assert not {"default", "description"} & set(s.schema), f"{name}.{key}: written twice"
        jsonschema.Draft7Validator.check_schema(s.schema)
        errors = [e.message for e in jsonschema.Draft7Validator(s.schema).iter_errors(s.default)]
        assert not errors, f"{name}.{key}: default {s.default!r} is invalid under its own schema: {errors}"
    expected = {key: {**s.schema, "default": s.default, "description": s.description}
                for key, s in settings.items()}
    schema = module.POLICY.config_schema
    assert schema.properties == expected and list(schema.properties) == list(expected)
    assert not schema.required


def test_a_check_receives_the_defaults_under_what_the_config_gives():
    from guardrails import quotas

    cfg = merged(quotas.SETTINGS, {"exemptNamespaces": ["traefik"], "requiredQuotaKeys": None})
    assert cfg == {"exemptNamespaces": ["traefik"],
                   "requiredQuotaKeys": quotas.SETTINGS["requiredQuotaKeys"].default}
    assert merged(quotas.SETTINGS) == {k: s.default for k, s in quotas.SETTINGS.items()}
