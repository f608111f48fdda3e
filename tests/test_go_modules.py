"""The Go modules of the engine and lab tiers are where the tools that build them look, checked
without building anything (the tiers' own tests need the built binaries and run apart):
every path tools/engine/*.sh names under the repository exists, every module tools.tsv and
tools/lab/binaries.py build from has its go.mod requiring what is built, no module folder is
left that nothing builds, and Renovate's gomod pattern still finds the engine's modules."""

from __future__ import annotations

import json
import re

import pytest

from tools.lab import binaries
from tools.paths import ROOT

ENGINE = ROOT / "tools" / "engine"
ENGINE_MODULES = ENGINE / "go"


def _tools() -> list[list[str]]:
    """tools.tsv's tool lines, split into their columns (build.sh drops comments and blanks)."""
    lines = (ENGINE / "tools.tsv").read_text().splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


def _requires(go_mod: str, package: str) -> bool:
    """Whether go.mod requires the module `package` belongs to (a prefix of its path)."""
    parts = package.split("/")
    prefixes = {"/".join(parts[:n]) for n in range(1, len(parts) + 1)}
    named = set(re.findall(r"^\s*(?:require\s+)?(\S+)\s+v\S+", go_mod, re.M))
    return bool(prefixes & named)


@pytest.mark.parametrize("script", sorted(ENGINE.glob("*.sh")), ids=lambda p: p.name)
def test_every_repository_path_a_build_script_names_exists(script):
    named = set(re.findall(r"\$repo/([A-Za-z0-9_./-]+)", script.read_text()))
    assert named, f"{script.name} names no path under $repo: this test reads nothing"
    # ./venv is made by ./run, not committed
    missing = sorted(p for p in named if not p.startswith("venv/") and not (ROOT / p.rstrip("/")).exists())
    assert not missing, f"{script.relative_to(ROOT)} names {missing}, which do not exist"


def test_the_engine_modules_are_those_tools_tsv_builds():
    tools = _tools()
    assert tools and all(len(cols) == 6 for cols in tools), "tools.tsv: six tab-separated columns a line"
    used = set()
    for name, _req, kind, module, package, _var in tools:
        if kind == "go":
            used.add(name)
            go_mod = ENGINE_MODULES / name / "go.mod"
            # build.sh reports MISSING for a tool whose module is not written yet; ours all are
            assert go_mod.is_file(), f"{name}: no {go_mod.relative_to(ROOT)}"
            assert _requires(go_mod.read_text(), package), f"{go_mod.relative_to(ROOT)} does not require {module}"
        elif kind == "local":
            used.add(module)
            assert (ENGINE_MODULES / module / "go.mod").is_file(), f"{name}: no module {module} in tools/engine/go"
            assert (ENGINE_MODULES / module / package).is_dir(), f"{name}: no package {package} in {module}"
    folders = {p.parent.name for p in ENGINE_MODULES.glob("*/go.mod")}
    assert folders == used, f"module folders nothing builds: {sorted(folders - used)}"


def test_the_lab_modules_are_those_binaries_builds():
    for binary in binaries.GO_BINARIES:
        go_mod = binary.module_dir / "go.mod"
        assert go_mod.is_file(), f"{binary.name}: no {go_mod.relative_to(ROOT)}"
        assert _requires(go_mod.read_text(), binary.package), f"{go_mod.relative_to(ROOT)} does not require {binary.package}"
    folders = {p.parent for p in (ROOT / "tools" / "lab" / "go").glob("*/go.mod")}
    assert folders == {b.module_dir for b in binaries.GO_BINARIES}


def test_renovate_finds_the_engine_modules():
    config = json.loads((ROOT / "renovate.json").read_text())
    pattern = config["gomod"]["managerFilePatterns"][0]
    assert pattern.startswith("/") and pattern.endswith("/"), pattern
    go_mods = sorted(str(p.relative_to(ROOT)) for p in ENGINE_MODULES.glob("*/go.mod"))
    assert go_mods and all(re.search(pattern[1:-1], p) for p in go_mods), (pattern, go_mods)
