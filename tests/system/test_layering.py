"""The system layer is flat: its pure modules (values, builders, budgets) take shared pieces
from the leaves (budget, chart_pin) and components/kube_specs.py, never from one another;
the leaves import nothing from the layer. (Components import the components they create or
take: Pulumi reads a component's annotated attributes at run time.)"""

import ast

from tools.paths import ROOT

SYSTEM = ROOT / "components" / "system"
LEAVES = {"budget", "chart_pin"}
PURE = {"cert_manager_values", "crds", "htpasswd", "traefik_values"}


def runtime_system_imports(module: str) -> set[str]:
    tree = ast.parse((SYSTEM / f"{module}.py").read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("components.system."):
                found.add(node.module.rsplit(".", 1)[1])
            elif node.module == "components.system":
                found |= {alias.name for alias in node.names}
    return found


def test_leaves_import_nothing_from_the_layer():
    for leaf in LEAVES:
        assert runtime_system_imports(leaf) == set(), leaf


def test_pure_modules_import_only_leaves():
    for module in PURE:
        assert runtime_system_imports(module) <= LEAVES, module


def test_restricted_security_context_is_written_once():
    for path in [*SYSTEM.glob("*.py"), *(SYSTEM.parent / "platform").glob("*.py")]:
        text = path.read_text()
        assert '"allowPrivilegeEscalation"' not in text, path.name
        assert '"seccompProfile"' not in text, path.name
