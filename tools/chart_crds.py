"""`python -m tools.chart_crds [--repository URL] [--out DIR]` (`./run schemas`): regenerate
the CRD JSON schemas the offline plan validates custom resources against, from the charts
the program installs.

For each chart in `tools.imitations.schemas.CRD_CHARTS` (the pins in components/system), at its pinned
version:

1. read `index.yaml` of the chart repository (the pin's own, or `--repository URL` for a
   mirror that serves both charts, e.g. ../shared/charts on 127.0.0.1);
2. download the archive the index names and check its sha256 against the index's digest;
3. take the CRDs the chart installs: plain YAML under `crds/` (Traefik), or templates whose
   only Go-template actions are whole lines — the value gate and the label include
   (cert-manager's `templates/crd-*.yaml`, installed when `crds.enabled`, which the program
   sets); a template with an action inside the CRD body is refused, not guessed at;
4. turn each served version's `openAPIV3Schema` into a draft-07 JSON schema
   (`tools.imitations.schemas.convert`: what the check means lives with the check).

Writes `crd-schemas/<group>/<kind>-<version>.json` and `crd-schemas/index.json` (chart,
version, repository, archive digest, and the sha256 of every file written). Pure standard
library plus PyYAML; no helm binary.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shutil
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from components.system.chart_pin import ChartPin
from tools.imitations.schemas import CRD_CHARTS, CRD_SCHEMAS, INDEX_NAME, CrdSchemaError, convert, schema_file_name

TIMEOUT_SECONDS = 120
_WHOLE_LINE_ACTION = re.compile(r"^\s*\{\{.*\}\}\s*$")
_GATE = re.compile(r"^\s*\{\{-?\s*if\s+(.*?)\s*-?\}\}\s*$")


class ChartCrdError(Exception):
    """A chart could not be fetched, verified or read; the message says what and how to fix it."""


# --- reading a chart archive ----------------------------------------------------------------------


@dataclass(frozen=True)
class CrdDoc:
    path: str          # inside the chart, e.g. crds/traefik.io_middlewares.yaml
    crd: dict
    installed_when: str | None  # the template's gate, None for crds/ (always installed)


def _untemplate(path: str, text: str) -> tuple[str, str | None]:
    """The YAML of a CRD template whose actions are whole lines, and its leading `if` gate."""
    lines: list[str] = []
    gate: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if _WHOLE_LINE_ACTION.match(line):
            found = _GATE.match(line)
            if found and gate is None and not lines:
                gate = found.group(1)
            continue
        if "{{" in line:
            raise ChartCrdError(
                f"{path}:{number}: a template action inside the CRD body ({line.strip()[:60]}); "
                "tools/chart_crds.py reads only CRD templates whose actions are whole lines — "
                "render this chart with `helm template` and teach the generator that output")
        lines.append(line)
    return "\n".join(lines) + "\n", gate


def crds_in_archive(data: bytes, chart: str) -> list[CrdDoc]:
    """Every CustomResourceDefinition the chart archive installs, in path order."""
    found: list[CrdDoc] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            root, _, inner = member.name.partition("/")
            if root != chart or not member.isfile() or not inner.endswith((".yaml", ".yml")):
                continue
            if not (inner.startswith("crds/") or inner.startswith("templates/")):
                continue
            handle = tar.extractfile(member)
            if handle is None:  # isfile() above: only a corrupt archive gets here
                raise ChartCrdError(f"{chart}: {member.name} cannot be read from the archive")
            text = handle.read().decode()
            if "kind: CustomResourceDefinition" not in text:
                continue
            gate = None
            if inner.startswith("templates/"):
                text, gate = _untemplate(inner, text)
            for doc in yaml.safe_load_all(text):
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    found.append(CrdDoc(inner, doc, gate))
    return found


# --- fetching from a chart repository -------------------------------------------------------------


def _get(url: str, what: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            return response.read()
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise ChartCrdError(
            f"{what}: cannot download {url} ({reason}) — check the network, or pass "
            "--repository URL of a chart repository that serves this version "
            "(e.g. ../shared/charts served on 127.0.0.1)") from None


def fetch_chart(pin: ChartPin, repository: str) -> tuple[bytes, dict]:
    """The pinned chart's archive from `repository`, digest-checked, and its index entry."""
    what = f"{pin.chart} {pin.version}"
    base = repository.rstrip("/") + "/"
    index = yaml.safe_load(_get(urllib.parse.urljoin(base, "index.yaml"), what))
    entries = ((index or {}).get("entries") or {}).get(pin.chart) or []
    entry = next((e for e in entries if str(e.get("version")) == pin.version), None)
    if entry is None:
        versions = ", ".join(sorted(str(e.get("version")) for e in entries)[-5:]) or "none"
        raise ChartCrdError(f"{what}: {base}index.yaml has no {pin.chart} {pin.version} "
                            f"(it lists {versions}) — fix the pin or the repository")
    if not entry.get("urls") or not entry.get("digest"):
        raise ChartCrdError(f"{what}: its entry in {base}index.yaml has no urls or no digest — "
                            "the archive cannot be verified; use another repository")
    url = urllib.parse.urljoin(base, entry["urls"][0])
    data = _get(url, what)
    actual = hashlib.sha256(data).hexdigest()
    if actual != entry["digest"]:
        raise ChartCrdError(f"{what}: {url} has sha256 {actual} but {base}index.yaml says "
                            f"{entry['digest']} — the download or the repository is corrupt; retry "
                            "or use another repository")
    return data, entry


# --- the whole run --------------------------------------------------------------------------------


def _dump(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _recorded_repository(repository: str) -> str:
    """The repository as recorded: a loopback mirror's port changes every run, so it is not kept."""
    parts = urllib.parse.urlsplit(repository)
    if parts.hostname in ("127.0.0.1", "localhost", "::1") and parts.port:
        return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.hostname}:PORT"))
    return repository


def generate(out: Path, repository: str | None = None) -> dict:
    """Write every schema and the index into `out` (replaced); return the index."""
    charts, files = [], {}
    for pin, groups in CRD_CHARTS:
        repo = repository or pin.repo
        data, entry = fetch_chart(pin, repo)
        docs = [d for d in crds_in_archive(data, pin.chart) if d.crd["spec"]["group"] in groups]
        if not docs:
            raise ChartCrdError(f"{pin.chart} {pin.version}: the archive installs no CRD of "
                                f"{', '.join(groups)} — fix the groups in tools/imitations/schemas.py CRD_CHARTS")
        schemas = []
        for doc in docs:
            for version in doc.crd["spec"]["versions"]:
                if not version.get("served"):
                    continue
                spec = doc.crd["spec"]
                name = schema_file_name(spec["group"], spec["names"]["kind"], version["name"])
                schema = convert(doc.crd, version, f"{pin.chart} {pin.version}: {doc.path}")
                text = _dump(schema)
                files[name] = text
                schemas.append({
                    "apiVersion": f"{spec['group']}/{version['name']}",
                    "kind": spec["names"]["kind"],
                    "file": name,
                    "source": doc.path,
                    **({"installedWhen": doc.installed_when} if doc.installed_when else {}),
                    "sha256": hashlib.sha256(text.encode()).hexdigest(),
                })
        charts.append({
            "chart": pin.chart,
            "version": pin.version,
            "repository": pin.repo,
            "fetchedFrom": _recorded_repository(repo),
            "archive": entry["urls"][0].rsplit("/", 1)[-1],
            "digest": f"sha256:{entry['digest']}",
            "groups": list(groups),
            "schemas": schemas,
        })
    index = {
        "about": "Generated by `./run schemas` (tools/chart_crds.py) from the pinned charts' CRDs; "
                 "do not edit — change the pins in components/system and regenerate.",
        "charts": charts,
    }
    if out.exists():
        shutil.rmtree(out)  # a kind the chart dropped must not linger
    for name, text in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    (out / INDEX_NAME).write_text(_dump(index))
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.chart_crds", description=__doc__.splitlines()[0])
    parser.add_argument("--repository", metavar="URL",
                        help="chart repository serving both pinned charts (default: each pin's own)")
    parser.add_argument("--out", type=Path, default=CRD_SCHEMAS,
                        help=f"output folder, replaced (default: {CRD_SCHEMAS.name}/)")
    args = parser.parse_args(argv)
    try:
        index = generate(args.out, args.repository)
    except (ChartCrdError, CrdSchemaError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for chart in index["charts"]:
        print(f"{chart['chart']} {chart['version']} ({chart['digest'][:19]}…): "
              f"{len(chart['schemas'])} schemas")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
