"""The import rules of the whole tree, read from the source (no module is imported):

- components/ is built in floors: the shared leaves, then config, network, cluster, system,
  platform and the composer (stack). A module imports its own floor or earlier ones, never a
  later one; config imports nothing above the leaves.
- Pure modules (every module listed in PURE) import no pulumi package, and from components
  only other pure modules or the config models: what they compute can be tested without an
  engine or mocks.
- components/ never imports tools/ or policies/; the policy pack (policies/) imports neither:
  it runs in the engine's analyzer process with its own requirements.
- Every module under components/ belongs to a floor, so a new package or file has to say where
  it stands.
- tools/ has commands above and stand-ins below: tools/imitations/ (what imitates Pulumi and
  Kubernetes offline) imports from tools/ only itself and the helpers every tool shares
  (TOOL_HELPERS), never a command, so any command can build on it.
"""

import ast
from pathlib import Path

import pytest

from tools.paths import ROOT

SHARED = {"grammar", "names", "quantity", "go_yaml", "safe_yaml", "kube_specs", "kube", "pki"}
FLOORS = ["shared", "config", "network", "cluster", "system", "platform", "stack"]

PURE = {
    "components.grammar", "components.names", "components.quantity", "components.go_yaml", "components.safe_yaml",
    "components.kube_specs",
    "components.config.types", "components.config.k3s_options",
    "components.network.kinds", "components.network.payloads", "components.network.openvpn",
    "components.cluster.render", "components.cluster.order",
    "components.system.budget", "components.system.chart_pin", "components.system.crds",
    "components.system.cert_manager_values", "components.system.traefik_values", "components.system.htpasswd",
    "components.platform.specs", "components.platform.tenant_objects", "components.platform.host_ownership",
    "components.platform.rbac", "components.platform.sample_app",
}
PULUMI_PACKAGES = ("pulumi", "pulumi_kubernetes", "pulumi_command", "pulumi_random", "pulumi_tls")
# Shared by every tool and by the stand-ins: where the repository is, how a run ends, and the
# stack file read as the CLI reads it (which the harness needs).
TOOL_HELPERS = {"tools", "tools.paths", "tools.cli", "tools.stack_file"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module a file imports, absolute (`from . import x` resolved; `from a import b`
    counts as a.b when b is a module of ours, else as a), at any depth of the file."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = ROOT.joinpath(*source.split("."), alias.name)
                is_module = submodule.with_suffix(".py").is_file() or (submodule / "__init__.py").is_file()
                found.add(f"{source}.{alias.name}" if is_module else source)
    return found


def floor_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "components" or len(parts) == 1:
        raise ValueError(module)
    top = parts[1]
    if top in SHARED:
        return "shared"
    if top in FLOORS:
        return top
    raise ValueError(module)


def component_files() -> list[Path]:
    return sorted((ROOT / "components").rglob("*.py"))


def component_modules() -> set[str]:
    return {module_name(p) for p in component_files()}


def test_every_component_module_has_a_floor():
    unplaced = []
    for path in component_files():
        module = module_name(path)
        if module == "components":
            continue
        try:
            floor_of(module)
        except ValueError:
            unplaced.append(module)
    assert not unplaced, f"modules without a floor (add them to SHARED or FLOORS in this test): {unplaced}"


@pytest.mark.parametrize("path", component_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_component_imports_a_later_floor(path):
    module = module_name(path)
    if module == "components":
        return
    mine = FLOORS.index(floor_of(module))
    known = component_modules()
    later = sorted(m for m in imported(path) if m in known and m != "components"
                   and FLOORS.index(floor_of(m)) > mine)
    assert not later, f"{module} ({FLOORS[mine]}) imports later floors: {later}"


@pytest.mark.parametrize("path", component_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_components_never_import_tools_or_policies(path):
    bad = sorted(m for m in imported(path) if m.split(".")[0] in ("tools", "policies", "guardrails", "tests"))
    assert not bad, f"{module_name(path)} imports {bad}"


@pytest.mark.parametrize("path", sorted((ROOT / "tools" / "imitations").rglob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_the_stand_ins_import_no_command(path):
    bad = sorted(m for m in imported(path) if m.split(".")[0] == "tools" and m not in TOOL_HELPERS
                 and not m.startswith("tools.imitations"))
    assert not bad, f"{module_name(path)} imports {bad} (tools/imitations/ stands below the commands)"


def test_pure_modules_exist():
    assert PURE <= component_modules(), sorted(PURE - component_modules())


@pytest.mark.parametrize("module", sorted(PURE))
def test_pure_modules_import_no_pulumi_and_only_pure_components(module):
    path = ROOT / (module.replace(".", "/") + ".py")
    names = imported(path)
    engine = sorted(m for m in names if m.split(".")[0] in PULUMI_PACKAGES)
    assert not engine, f"{module} is pure but imports {engine}"
    known = component_modules()
    impure = sorted(m for m in names if m in known and m not in PURE and m != "components"
                    and not m.startswith("components.config"))
    assert not impure, f"{module} is pure but imports {impure} (pure modules take only pure modules and config)"


def test_the_policy_pack_imports_no_program_code():
    for path in sorted((ROOT / "policies").rglob("*.py")):
        if "venv" in path.parts:
            continue
        bad = sorted(m for m in imported(path) if m.split(".")[0] in ("components", "tools", "tests"))
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def _architecture_table() -> dict[str, tuple[str, list[str]]]:
    """Component -> (its file, its pure modules) from docs/architecture.md's table."""
    rows = {}
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## Components and their pure modules", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[1].startswith("`components/"):
            continue
        component = cells[0].split("`")[1]
        pure = [p for p in cells[2].split("(")[0].split("`")[1::2] if p.endswith(".py")]
        rows[component] = (cells[1].strip("`"), pure)
    return rows


def test_the_architecture_table_pairs_every_component_with_pure_modules():
    table = _architecture_table()
    components = {}
    for path in component_files():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and any(ast.unparse(b) == "pulumi.ComponentResource" for b in node.bases):
                components[node.name] = str(path.relative_to(ROOT))
    assert {c: f for c, (f, _) in table.items()} == components
    for component, (_, pure) in table.items():
        modules = {"components." + p.removesuffix(".py").replace("/", ".") for p in pure}
        assert modules <= PURE, f"{component}: {sorted(modules - PURE)} are not pure modules"
        reached = _reached(module_name(ROOT / table[component][0]))
        assert modules <= reached or component == "Platform", f"{component} does not use {sorted(modules - reached)}"


def _reached(module: str) -> set[str]:
    """The component modules a module imports, directly or through other modules of ours."""
    known, seen, todo = component_modules(), set(), [module]
    while todo:
        path = ROOT / (todo.pop().replace(".", "/") + ".py")
        for name in imported(path) if path.is_file() else ():
            if name in known and name not in seen:
                seen.add(name)
                todo.append(name)
    return seen
