"""Validate Kubernetes objects: core kinds against the Kubernetes OpenAPI schema of the
pinned minor (PyPI `kubernetes-validate`), custom resources against the upstream CRD schemas
in `../shared/schemas/json/<group>/<kind>-<version>.json`. Unknown kinds are errors.

Each schema is read and its validator built once per kind and version, then reused:
`kubernetes_validate.validate` would re-read and re-parse the schema and the whole
definitions file for every object. The schema files and rules are the package's own, looked
up the way it looks them up, so the answers are the same.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
from referencing import Registry, Resource

from tools.harness import SECRET

ROOT = Path(__file__).resolve().parents[1]
CRD_SCHEMAS = ROOT.parent / "shared" / "schemas" / "json"
# The Kubernetes minor the cluster runs (k3s v1.34.x); kubernetes-validate ships its schema.
KUBERNETES_VERSION = "1.34.0"
# API groups served by CRDs rather than by Kubernetes itself.
CRD_GROUPS = ("traefik.io", "cert-manager.io", "helm.cattle.io", "acme.cert-manager.io")


@cache
def _crd_validator(group: str, kind: str, version: str):
    path = CRD_SCHEMAS / group / f"{kind.lower()}-{version}.json"
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    return jsonschema.Draft7Validator(schema)


@cache
def _k8s_schema_dir() -> str:
    """The package's strict schema folder for KUBERNETES_VERSION, chosen as it chooses it."""
    utils = kubernetes_validate.utils
    wanted = utils.major_minor(KUBERNETES_VERSION)
    if wanted > utils.latest_version():
        raise kubernetes_validate.VersionNotSupportedError(version=wanted)
    version = [v for v in utils.all_versions() if utils.major_minor(v) <= wanted][-1]
    return f"v{version}-local-strict"


@cache
def _k8s_schema_file(name: str) -> dict:
    """One schema file of the package, read and parsed once (FileNotFoundError if absent)."""
    return kubernetes_validate.utils.schema_contents(
        f"kubernetes-json-schema/{_k8s_schema_dir()}/{name}", KUBERNETES_VERSION)


@cache
def _k8s_validator(api_version: str, kind: str):
    """The validator of one core kind and version, built once; None if the pinned minor has no
    such kind. `rbac.authorization.k8s.io/v1` `Role` reads `role-rbac-v1.json`."""
    file_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = _k8s_schema_file(f"{kind.lower()}-{file_version}.json")
    except FileNotFoundError:
        return None
    registry = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(_k8s_schema_file("_definitions.json")) @ registry
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


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


def validate(obj: dict) -> list[str]:
    """Problems with one object, each prefixed by Kind/namespace/name; [] when valid."""
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
    validator = _k8s_validator(api_version, kind)
    if validator is None:
        return [f"{_ref(obj)}: unknown kind {api_version} {kind} for Kubernetes {KUBERNETES_VERSION}"]
    try:
        validator.validate(obj)  # raises the first error, as kubernetes_validate.validate does
    except jsonschema.ValidationError as err:
        path = ".".join(map(str, err.path)) or "(root)"
        return [f"{_ref(obj)}: {path}: {err.message}"]
    return []


def validate_all(objects: list[dict]) -> list[str]:
    return [problem for obj in objects for problem in validate(obj)]
