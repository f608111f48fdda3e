"""The committed crd-schemas/ are exactly what `./run schemas` makes from the pinned charts.

Regenerates them from a chart repository served on 127.0.0.1 — the local mirror in
../shared/charts — into a temporary folder, and fails on any difference, so a chart bump (or
a converter change) cannot leave stale schemas behind. The mirror's archives are repacked
copies of the published ones (same files, other timestamps), so the archive digest and where
it was fetched from may differ from the index's; everything else must match.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.shared_data import serve, shared_path
from tools.imitations.schemas import CRD_CHARTS, CRD_SCHEMAS, INDEX_NAME
from tools.paths import ROOT

PINS = ", ".join(f"{pin.chart} {pin.version} from {pin.repo}" for pin, _ in CRD_CHARTS)
CHARTS = shared_path("charts/index.yaml", "the local chart repository (the pinned charts' .tgz "
                     "and their index.yaml)", f"download the archives ({PINS}) there and run "
                     "`helm repo index` in it; or, online, `./run schemas && git diff "
                     "--exit-code crd-schemas/` checks the same").parent
# Where the archive came from, not what it holds.
FETCH_FIELDS = ("fetchedFrom", "digest")


def files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def without_fetch_fields(index: dict) -> dict:
    return {**index, "charts": [{k: v for k, v in c.items() if k not in FETCH_FIELDS}
                                for c in index["charts"]]}


def test_committed_schemas_match_the_pinned_charts(tmp_path):
    out = tmp_path / "crd-schemas"
    with serve(CHARTS) as url:
        run = subprocess.run([sys.executable, "-m", "tools.chart_crds", "--repository", url,
                              "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    fresh, committed = files(out), files(CRD_SCHEMAS)
    fix = "run `./run schemas` (or `--repository URL` of a mirror) and commit crd-schemas/"
    assert sorted(fresh) == sorted(committed), f"files differ — {fix}"
    changed = [name for name in fresh if name != INDEX_NAME and fresh[name] != committed[name]]
    assert not changed, f"stale or edited schemas {changed} — {fix}"
    fresh_index, committed_index = (json.loads(x[INDEX_NAME]) for x in (fresh, committed))
    assert without_fetch_fields(fresh_index) == without_fetch_fields(committed_index), f"index differs — {fix}"
    # What was regenerated is what the program pins, each chart digest-checked.
    assert [(c["chart"], c["version"]) for c in fresh_index["charts"]] == [
        (pin.chart, pin.version) for pin, _ in CRD_CHARTS]
    assert all(c["digest"].startswith("sha256:") and len(c["digest"]) == 71 for c in fresh_index["charts"])
