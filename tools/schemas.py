"""Validate Kubernetes objects: core kinds against the Kubernetes OpenAPI schema of the
cluster's minor (from `cluster.k3sVersion`; PyPI `kubernetes-validate` ships one schema per
minor), custom resources against the upstream CRD schemas
in `../shared/schemas/json/<group>/<kind>-<version>.json`. Unknown kinds are errors.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate

from tools.harness import SECRET

ROOT = Path(__file__).resolve().parents[1]
CRD_SCHEMAS = ROOT.parent / "shared" / "schemas" / "json"


def schema_version(kubernetes_minor: str) -> str:
    """kubernetes-validate's version for a cluster minor: "v1.34" -> "1.34.0"."""
    return kubernetes_minor.removeprefix("v") + ".0"

# API groups served by CRDs rather than by Kubernetes itself.
CRD_GROUPS = ("traefik.io", "cert-manager.io", "helm.cattle.io", "acme.cert-manager.io")


@cache
def _crd_validator(group: str, kind: str, version: str):
    path = CRD_SCHEMAS / group / f"{kind.lower()}-{version}.json"
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    return jsonschema.Draft7Validator(schema)


def _ref(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')}/{ns + '/' if ns else ''}{meta.get('name')}"


def _unredact(value):
    """Validation sees a plausible string where a secret was redacted."""
    if value == SECRET:
        return "cmVkYWN0ZWQ="  # base64, valid for Secret.data too
    if isinstance(value, dict):
        # A Secret's whole data map may be one secret value: stand in a one-key map.
        return {k: ({"redacted": "cmVkYWN0ZWQ="} if k in ("data", "stringData") and v == SECRET
                    else _unredact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_unredact(v) for v in value]
    return value


def validate(obj: dict, kubernetes_minor: str) -> list[str]:
    """Problems with one object, each prefixed by Kind/namespace/name; [] when valid.

    kubernetes_minor: the cluster's minor, e.g. "v1.34" (`StackConfig.cluster.kubernetes_minor`).
    """
    k8s_version = schema_version(kubernetes_minor)
    api_version = obj.get("apiVersion", "")
    kind = obj.get("kind", "")
    group, _, version = api_version.rpartition("/")
    obj = _unredact(obj)
    if group in CRD_GROUPS:
        validator = _crd_validator(group, kind, version)
        if validator is None:
            return [f"{_ref(obj)}: no schema for {api_version} {kind} — add it to ../shared/schemas"]
        return [f"{_ref(obj)}: {'.'.join(map(str, e.path)) or '(root)'}: {e.message}"
                for e in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.path)))]
    try:
        kubernetes_validate.validate(obj, k8s_version, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{_ref(obj)}: unknown kind {api_version} {kind} for Kubernetes {k8s_version}"]
    except kubernetes_validate.ValidationError as err:
        path = ".".join(map(str, err.path)) or "(root)"
        return [f"{_ref(obj)}: {path}: {err.message}"]
    return []


def validate_all(objects: list[dict], kubernetes_minor: str) -> list[str]:
    return [problem for obj in objects for problem in validate(obj, kubernetes_minor)]
