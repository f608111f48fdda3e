"""Every file the tree cites by its repository path exists.

Comments, docstrings, docs and CI files name files (`components/cluster/render.py`,
`tests/engine/test_people.py`, `docs/operations.md`); a move or a removal that leaves such a
name behind sends a reader nowhere. Two kinds of text are records of their day and may name
what has since gone: CHANGELOG.md and the ADRs (whose Status says what changed since).
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tools.paths import ROOT

TOP_FOLDERS = ("components", "tools", "tests", "policies", "docs", ".ci", "crd-schemas", ".github")
EXTENSIONS = ("py", "md", "sh", "json", "yaml", "yml", "tsv", "toml", "ini", "txt")
CITATION = re.compile(rf"(?<![\w./-])((?:{'|'.join(re.escape(f) for f in TOP_FOLDERS)})/[\w./-]*\.(?:{'|'.join(EXTENSIONS)}))(?![\w/-])")
RECORDS = ("CHANGELOG.md", "docs/adr/")
# Citations of a path that is gone on purpose, each with why it stays.
KEPT = {
    # The harness of revisions before issue 31, which `--against` may run.
    ("tools/plan/against.py", "tools/" "harness.py"),  # (split: this file is scanned too)
}
SCANNED = (".py", ".md", ".sh", ".yml", ".yaml", ".toml", ".ini", ".tsv", ".cfg")


def tracked_texts() -> list[str]:
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [f for f in files if (f.endswith(SCANNED) or f in ("run",) or f.startswith(".ci/"))
            and not f.startswith(RECORDS) and not f.startswith("crd-schemas/") and "/golden/" not in f
            and (ROOT / f).is_file()]


def citations(text: str) -> list[tuple[int, str]]:
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in CITATION.finditer(text)
            if not any(c in m.group(1) for c in "*<>{}")]


def test_the_pattern_finds_citations_and_ignores_what_is_not_one():
    text = ("see components/cluster/render.py and `tests/engine/test_people.py`; not "
            "x/components/a.py, nor tests/system/ (a folder), nor tools/plan/build.check_policies\n"
            "line two: docs/operations.md.")
    assert citations(text) == [(1, "components/cluster/render.py"), (1, "tests/engine/test_people.py"),
                               (2, "docs/operations.md")]


@pytest.mark.parametrize("path", tracked_texts())
def test_cited_files_exist(path):
    text = (ROOT / path).read_text(errors="replace")
    missing = [f"{path}:{line}: {cited}" for line, cited in citations(text)
               if not (ROOT / cited).exists() and (path, cited) not in KEPT]
    assert not missing, "cited but not in the tree (fix the citation, or the move):\n" + "\n".join(missing)
