"""`./run schemas` on small hand-made inputs: the conversion rules (tools/imitations/schemas.py),
reading CRDs out of a chart archive (plain and templated), and fetching from a repository
(tools/chart_crds.py: digest, missing version). Needs nothing outside the repository."""

from __future__ import annotations

import hashlib
import io
import tarfile

import jsonschema
import pytest
import yaml

from components.system.chart_pin import ChartPin
from tests.shared_data import serve
from tools.chart_crds import ChartCrdError, crds_in_archive, fetch_chart
from tools.imitations.schemas import convert

WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.io"},
    "spec": {
        "group": "example.io",
        "names": {"kind": "Widget", "plural": "widgets"},
        "scope": "Namespaced",
        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
            "type": "object",
            "required": ["spec"],
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": {"type": "object", "properties": {
                    "port": {"x-kubernetes-int-or-string": True},
                    "note": {"type": "string", "nullable": True},
                    "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                    "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                               "properties": {"known": {"type": "string"}}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "rules": {"type": "array", "items": {"type": "object", "properties": {
                        "host": {"type": "string"}}}},
                }},
            },
        }}}],
    },
}


@pytest.fixture(scope="module")
def widget():
    schema = convert(WIDGET_CRD, WIDGET_CRD["spec"]["versions"][0], "test: widgets.yaml")
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def errors(validator, spec: dict, **top) -> list[str]:
    obj = {"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "a"},
           "spec": spec, **top}
    return [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(obj)]


def test_a_valid_object_passes(widget):
    assert errors(widget, {"port": 8080, "note": None, "tags": ["a", "b"], "config": {"any": 1},
                           "labels": {"k": "v"}, "rules": [{"host": "x"}]}) == []
    assert errors(widget, {"port": "http"}) == []


def test_unknown_fields_are_rejected_where_the_crd_lists_its_fields(widget):
    assert errors(widget, {"prot": 1}) == ["spec: Additional properties are not allowed ('prot' was unexpected)"]
    assert errors(widget, {"rules": [{"hots": "x"}]})[0].startswith("spec.rules.0: Additional properties")
    assert errors(widget, {}, extra=True)[0].startswith(": Additional properties")


def test_free_form_places_stay_open(widget):
    assert errors(widget, {"config": {"known": "a", "anything": {"nested": True}}}) == []


def test_kubernetes_extensions_become_json_schema(widget):
    assert errors(widget, {"port": 1.5}) and errors(widget, {"port": True})   # int-or-string
    assert errors(widget, {"tags": ["a", "a"]}) == ["spec.tags: ['a', 'a'] has non-unique elements"]
    assert errors(widget, {"note": 3}) and not errors(widget, {"note": None})


def test_api_version_kind_and_metadata_are_checked(widget):
    assert errors(widget, {}, apiVersion="example.io/v2")[0].startswith("apiVersion: 'example.io/v1' was expected")
    assert errors(widget, {}, kind="Gadget")[0].startswith("kind: 'Widget' was expected")
    assert errors(widget, {}, metadata={"name": "w", "labels": {"k": 1}}) == ["metadata.labels.k: 1 is not of type 'string'"]


def test_provenance_and_scope_are_recorded():
    schema = convert(WIDGET_CRD, WIDGET_CRD["spec"]["versions"][0], "test: widgets.yaml")
    assert (schema["title"], schema["x-source"], schema["x-crd-name"], schema["x-scope"]) == (
        "Widget (example.io/v1)", "test: widgets.yaml", "widgets.example.io", "Namespaced")
    assert schema["required"] == ["apiVersion", "kind", "spec"]


# --- chart archives --------------------------------------------------------------------------------

GATE = "{{- if .Values.crds.enabled }}"
TEMPLATED = "\n".join([
    GATE,
    *yaml.safe_dump(WIDGET_CRD, sort_keys=False).splitlines()[:4],  # apiVersion, kind, metadata, name
    "  labels:",
    '    {{- include "widget.labels" . | nindent 4 }}',
    *yaml.safe_dump({"spec": WIDGET_CRD["spec"]}, sort_keys=False).splitlines(),
    "{{- end }}",
])


def archive(chart: str, files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in {"Chart.yaml": f"name: {chart}\n", **files}.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{chart}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_crds_folder_and_gated_templates_are_read():
    data = archive("widgets", {
        "crds/example.io_widgets.yaml": yaml.safe_dump(WIDGET_CRD),
        "templates/crd-widgets.yaml": TEMPLATED,
        "templates/deployment.yaml": "kind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n",
    })
    found = crds_in_archive(data, "widgets")
    assert [(d.path, d.installed_when) for d in found] == [
        ("crds/example.io_widgets.yaml", None), ("templates/crd-widgets.yaml", ".Values.crds.enabled")]
    assert all(d.crd["spec"] == WIDGET_CRD["spec"] for d in found)


def test_a_template_action_inside_the_crd_body_is_refused():
    body = TEMPLATED.replace("scope: Namespaced", "scope: {{ .Values.scope }}")
    with pytest.raises(ChartCrdError, match=r"templates/crd-widgets.yaml:\d+: a template action inside"):
        crds_in_archive(archive("widgets", {"templates/crd-widgets.yaml": body}), "widgets")


# --- fetching ----------------------------------------------------------------------------------------

PIN = ChartPin(chart="widgets", version="1.2.3", repo="unused", app_version="v1")


def repository(folder, data: bytes, digest: str | None = None) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "widgets-1.2.3.tgz").write_bytes(data)
    entry = {"version": "1.2.3", "urls": ["widgets-1.2.3.tgz"],
             "digest": digest or hashlib.sha256(data).hexdigest()}
    (folder / "index.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "entries": {"widgets": [entry]}}))


def test_fetch_verifies_the_archive_digest(tmp_path):
    data = archive("widgets", {"crds/w.yaml": yaml.safe_dump(WIDGET_CRD)})
    repository(tmp_path / "good", data)
    repository(tmp_path / "bad", data, digest="0" * 64)
    with serve(tmp_path / "good") as url:
        fetched, entry = fetch_chart(PIN, url)
    assert fetched == data and entry["digest"] == hashlib.sha256(data).hexdigest()
    with serve(tmp_path / "bad") as url, pytest.raises(ChartCrdError, match="says 0000") as err:
        fetch_chart(PIN, url)
    assert hashlib.sha256(data).hexdigest() in str(err.value)


def test_fetch_names_a_missing_version_and_an_unreachable_repository(tmp_path):
    repository(tmp_path, archive("widgets", {}))
    with serve(tmp_path) as url, pytest.raises(ChartCrdError, match=r"has no widgets 9\.9\.9 \(it lists 1\.2\.3\)"):
        fetch_chart(ChartPin("widgets", "9.9.9", "unused", "v1"), url)
    with serve(tmp_path) as url:
        pass  # the server is gone: nothing listens on that port any more
    with pytest.raises(ChartCrdError, match="cannot download .*--repository URL"):
        fetch_chart(PIN, url)
