"""Validate Kubernetes objects: core kinds against the Kubernetes OpenAPI schema of the
cluster's minor (from `cluster.k3sVersion`; PyPI `kubernetes-validate` ships one schema per
minor), custom resources against the JSON schemas in
`crd-schemas/`, generated from the CRDs of the pinned charts by `./run schemas`
(tools/chart_crds.py) and committed with their provenance in `crd-schemas/index.json`.

A custom resource is looked up only in the schemas of the chart versions the program pins
(`CRD_CHARTS`); a stale index (a chart bumped without regenerating), a hand-edited schema
file and an unknown kind are all reported as problems, each saying how to fix it.

Each core schema is read and its validator built once per Kubernetes version and kind, then
reused: `kubernetes_validate.validate` would re-read and re-parse the schema and the whole
definitions file for every object. The schema files and rules are the package's own, looked
up the way it looks them up, so the answers are the same.

`convert` is how a CRD's `openAPIV3Schema` becomes the JSON schema a custom resource is checked
against (unknown fields refused as `kubectl --validate=strict` refuses them); tools/chart_crds.py,
the `./run schemas` command, reads the charts and writes what it returns.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
from referencing import Registry, Resource

from components.system.cert_manager_values import CERT_MANAGER_CHART
from components.system.traefik_values import TRAEFIK_CHART
from tools.imitations.harness import SECRET
from tools.paths import ROOT

CRD_SCHEMAS = ROOT / "crd-schemas"
INDEX_NAME = "index.json"
# The charts whose CRDs define the custom resources the program emits, and the API groups
# taken from each. Traefik's chart also ships Traefik Hub's `hub.traefik.io` CRDs; the
# program uses no Hub feature, so an object of that group is an unknown kind.
CRD_CHARTS = (
    (TRAEFIK_CHART, ("traefik.io",)),
    (CERT_MANAGER_CHART, ("cert-manager.io", "acme.cert-manager.io")),
)
CRD_GROUPS = tuple(group for _, groups in CRD_CHARTS for group in groups)
REGENERATE = "run `./run schemas` (tools/chart_crds.py) and commit crd-schemas/"


def schema_file_name(group: str, kind: str, version: str) -> str:
    return f"{group}/{kind.lower()}-{version}.json"


@dataclass(frozen=True)
class CrdCatalog:
    """What crd-schemas/index.json offers for the pinned charts: (apiVersion, kind) -> entry."""

    schemas: dict[tuple[str, str], dict]
    problem: str | None  # set when the index cannot be used as it is


def schema_version(kubernetes_minor: str) -> str:
    """kubernetes-validate's version for a cluster minor: "v1.34" -> "1.34.0"."""
    return kubernetes_minor.removeprefix("v") + ".0"


@cache
def catalog(folder: Path = CRD_SCHEMAS) -> CrdCatalog:
    index_path = folder / INDEX_NAME
    if not index_path.is_file():
        return CrdCatalog({}, f"{index_path} is missing — {REGENERATE}")
    charts = {c["chart"]: c for c in json.loads(index_path.read_text())["charts"]}
    schemas: dict[tuple[str, str], dict] = {}
    for pin, _ in CRD_CHARTS:
        entry = charts.get(pin.chart)
        if entry is None or entry["version"] != pin.version:
            had = f"{pin.chart} {entry['version']}" if entry else f"no {pin.chart}"
            return CrdCatalog({}, f"{index_path} has {had} but components/system pins "
                                  f"{pin.chart} {pin.version} — {REGENERATE}")
        for schema in entry["schemas"]:
            schemas[(schema["apiVersion"], schema["kind"])] = schema
    return CrdCatalog(schemas, None)


@cache
def _crd_validator(folder: Path, file: str, sha256: str) -> jsonschema.Draft7Validator | str:
    """The validator of one committed schema, or why it cannot be trusted."""
    path = folder / file
    if not path.is_file():
        return f"{path} is missing — {REGENERATE}"
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        return f"{path} is not the file ./run schemas wrote (sha256 differs from {INDEX_NAME}) — {REGENERATE}"
    return jsonschema.Draft7Validator(json.loads(data))


@cache
def _k8s_schema_dir(k8s_version: str) -> str:
    """The package's strict schema folder for a version, chosen as the package chooses it."""
    utils = kubernetes_validate.utils
    wanted = utils.major_minor(k8s_version)
    if wanted > utils.latest_version():
        raise kubernetes_validate.VersionNotSupportedError(version=wanted)
    version = [v for v in utils.all_versions() if utils.major_minor(v) <= wanted][-1]
    return f"v{version}-local-strict"


@cache
def _k8s_schema_file(k8s_version: str, name: str) -> dict:
    """One schema file of the package, read and parsed once (FileNotFoundError if absent)."""
    return kubernetes_validate.utils.schema_contents(
        f"kubernetes-json-schema/{_k8s_schema_dir(k8s_version)}/{name}", k8s_version)


@cache
def _k8s_validator(k8s_version: str, api_version: str, kind: str):
    """The validator of one core kind and version, built once; None if that Kubernetes version
    has no such kind. `rbac.authorization.k8s.io/v1` `Role` reads `role-rbac-v1.json`."""
    file_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = _k8s_schema_file(k8s_version, f"{kind.lower()}-{file_version}.json")
    except FileNotFoundError:
        return None
    registry = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(_k8s_schema_file(k8s_version, "_definitions.json")) @ registry
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
        return {k: _unredact(v) for k, v in value.items()}  # a secret map keeps its keys (redact)
    if isinstance(value, list):
        return [_unredact(v) for v in value]
    return value


def _validate_custom(obj: dict, api_version: str, kind: str, folder: Path) -> list[str]:
    found = catalog(folder)
    if found.problem:
        return [f"{_ref(obj)}: {found.problem}"]
    entry = found.schemas.get((api_version, kind))
    if entry is None:
        pins = ", ".join(f"{pin.chart} {pin.version}" for pin, _ in CRD_CHARTS)
        return [f"{_ref(obj)}: no schema for {api_version} {kind}: the pinned charts ({pins}) "
                "define no such kind — fix apiVersion/kind, or pin the chart that defines it in "
                "tools/imitations/schemas.py CRD_CHARTS and run `./run schemas`"]
    validator = _crd_validator(folder, entry["file"], entry["sha256"])
    if isinstance(validator, str):
        return [f"{_ref(obj)}: {validator}"]
    return [f"{_ref(obj)}: {'.'.join(map(str, e.path)) or '(root)'}: {e.message}"
            for e in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.path)))]


def validate(obj: dict, kubernetes_minor: str, crd_schemas: Path = CRD_SCHEMAS) -> list[str]:
    """Problems with one object, each prefixed by Kind/namespace/name; [] when valid.

    kubernetes_minor: the cluster's minor, e.g. "v1.34" (`StackConfig.cluster.kubernetes_minor`).
    """
    k8s_version = schema_version(kubernetes_minor)
    api_version = obj.get("apiVersion", "")
    kind = obj.get("kind", "")
    group, _, _ = api_version.rpartition("/")
    obj = _unredact(obj)
    if group in CRD_GROUPS:
        return _validate_custom(obj, api_version, kind, crd_schemas)
    validator = _k8s_validator(k8s_version, api_version, kind)
    if validator is None:
        return [f"{_ref(obj)}: unknown kind {api_version} {kind} for Kubernetes {k8s_version}"]
    try:
        validator.validate(obj)  # raises the first error, as kubernetes_validate.validate does
    except jsonschema.ValidationError as err:
        path = ".".join(map(str, err.path)) or "(root)"
        return [f"{_ref(obj)}: {path}: {err.message}"]
    return []


def validate_all(objects: list[dict], kubernetes_minor: str) -> list[str]:
    return [problem for obj in objects for problem in validate(obj, kubernetes_minor)]


# --- a CRD version as a JSON schema (what `./run schemas` writes into crd-schemas/) ----------------

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
# ObjectMeta is not in a CRD's schema (the API server owns it): check the fields objects set.
# The description is in every committed schema file (and its sha256 in index.json): left as written.
METADATA = {
    "type": "object",
    "description": "Subset of ObjectMeta (added by tools/chart_crds.py; other ObjectMeta fields are allowed and not checked).",
    "properties": {
        "name": {"type": "string"},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
# Schema keywords whose value is one schema, a list of schemas, or a map of name -> schema.
_ONE = ("items", "additionalProperties", "not")
_MANY = ("anyOf", "allOf", "oneOf")
_MAP = ("properties", "patternProperties", "definitions")


class CrdSchemaError(Exception):
    """A CRD version whose schema cannot be converted; the message names the CRD and its source."""


def _strict(node: object) -> object:
    """A CRD structural schema as JSON Schema: unknown fields rejected where the CRD lists its
    fields (as `kubectl --validate=strict` does), Kubernetes extensions mapped where JSON Schema
    has an equivalent; other `x-kubernetes-*` keys and CEL rules stay as inert annotations."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    for key in _ONE:
        if isinstance(out.get(key), dict):
            out[key] = _strict(out[key])
    for key in _MANY:
        if isinstance(out.get(key), list):
            out[key] = [_strict(s) for s in out[key]]
    for key in _MAP:
        if isinstance(out.get(key), dict):
            out[key] = {name: _strict(s) for name, s in out[key].items()}
    if out.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if out.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    if (out.get("type") == "object" and "properties" in out and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def convert(crd: dict, version: dict, source: str) -> dict:
    """The JSON schema of one served version of `crd`; `source` names where the CRD came from."""
    spec = crd["spec"]
    group, kind = spec["group"], spec["names"]["kind"]
    api_version = f"{group}/{version['name']}"
    body = _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
    if not isinstance(body, dict):
        raise CrdSchemaError(f"{source}: {crd['metadata']['name']} {version['name']}: openAPIV3Schema is not a mapping")
    props = body.setdefault("properties", {})
    props["apiVersion"] = {**props.get("apiVersion", {"type": "string"}), "const": api_version}
    props["kind"] = {**props.get("kind", {"type": "string"}), "const": kind}
    props["metadata"] = METADATA
    body["required"] = ["apiVersion", "kind", *[r for r in body.get("required", [])
                                                 if r not in ("apiVersion", "kind")]]
    body.setdefault("additionalProperties", False)
    head = {"$schema": DRAFT_07, "title": f"{kind} ({api_version})", "x-source": source,
            "x-crd-name": crd["metadata"]["name"], "x-scope": spec["scope"]}
    return {**head, **body}
