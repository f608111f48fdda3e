"""The generated schemas agree with the reference copy in ../shared/schemas/json, made
independently from the upstream repositories' CRD files at the same tags: same rules (strict
objects, int-or-string, metadata subset), so the same objects pass and fail. Only the
provenance text differs. The reference's helm.cattle.io kinds (k3s's own HelmChart CRDs)
are not generated: no pinned chart installs them and the program emits none.
"""

from __future__ import annotations

import json

import pytest

from tests.shared_data import shared_path
from tools.imitations.schemas import CRD_GROUPS, CRD_SCHEMAS

REFERENCE = shared_path("schemas/json", "the reference copy of the CRD JSON schemas",
                        "it is made independently from the upstream CRD files (traefik-helm-chart "
                        "v41.3.0 traefik/crds/, cert-manager v1.21.1 deploy/crds/); no other test "
                        "needs it")


def comparable(schema: dict) -> dict:
    """The schema without its provenance text."""
    out = {k: v for k, v in schema.items() if k != "x-source"}
    out["properties"] = {**out["properties"],
                         "metadata": {k: v for k, v in out["properties"]["metadata"].items()
                                      if k != "description"}}
    return out


REFERENCE_FILES = sorted(p.relative_to(REFERENCE).as_posix() for p in REFERENCE.rglob("*.json")
                         if p.parent.name in CRD_GROUPS)


def test_the_reference_covers_kinds_the_program_emits():
    assert {"traefik.io/ingressroute-v1alpha1.json", "traefik.io/middleware-v1alpha1.json",
            "traefik.io/tlsoption-v1alpha1.json", "cert-manager.io/issuer-v1.json",
            "cert-manager.io/certificate-v1.json"} <= set(REFERENCE_FILES)


@pytest.mark.parametrize("name", REFERENCE_FILES)
def test_generated_schema_equals_the_reference(name):
    ours = CRD_SCHEMAS / name
    assert ours.is_file(), f"{name}: in the reference copy but not generated — check CRD_CHARTS"
    assert comparable(json.loads(ours.read_text())) == comparable(json.loads((REFERENCE / name).read_text()))
