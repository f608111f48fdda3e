"""The pack stands on pulumi-policy's public API only: no module of policies/ imports a private
name of pulumi-policy (a module or attribute starting with `_`) or assigns to one of its
attributes, so a pulumi-policy upgrade cannot silently break a patch. Values wrapped in the
library's proxies are still read as maps and lists without naming the proxies' classes."""

from __future__ import annotations

import ast
from pathlib import Path

from guardrails import _k8s
from pulumi_policy.proxy import unknown_checking_proxy

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def private_uses(source: str) -> list[str]:
    """`import`s of private pulumi-policy names and assignments to pulumi-policy attributes."""
    tree = ast.parse(source)
    aliases = {"pulumi_policy"}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "pulumi_policy":
                    aliases.add(a.asname or "pulumi_policy")
                    if any(part.startswith("_") for part in a.name.split(".")):
                        found.append(f"line {node.lineno}: import {a.name}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "pulumi_policy":
            parts = node.module.split(".") if node.module else []
            for a in node.names:
                aliases.add(a.asname or a.name)
                if any(p.startswith("_") for p in parts) or a.name.startswith("_"):
                    found.append(f"line {node.lineno}: from {node.module} import {a.name}")
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
            targets = [ast.Attribute(value=node.args[0], attr="?")] if node.args else []
        for t in targets:
            root = t
            while isinstance(root, ast.Attribute):
                root = root.value
            if t is not root and isinstance(root, ast.Name) and root.id in aliases:
                found.append(f"line {node.lineno}: assigns to an attribute of {root.id}")
    return found


def test_no_module_of_the_pack_uses_private_pulumi_policy_names():
    offenders = {str(p.relative_to(POLICIES)): private_uses(p.read_text())
                 for p in POLICIES.rglob("*.py") if "venv" not in p.parts}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_finds_private_imports_and_patches():
    assert private_uses("from pulumi_policy.proxy import _DictProxy\n")
    assert private_uses("from pulumi_policy import policy as server\nserver.json_format = None\n")
    assert private_uses("import pulumi_policy._x\n")
    assert private_uses("from pulumi_policy import policy\n"
                        "setattr(policy._PolicyAnalyzerServicer, 'Analyze', None)\n")
    assert private_uses("from pulumi_policy.proxy import UnknownValueError\n") == []


def test_proxied_values_are_maps_and_lists():
    proxied = unknown_checking_proxy({"spec": {"containers": [{"name": "a"}]}})
    assert _k8s.is_map(proxied) and _k8s.is_map(proxied["spec"])
    assert _k8s.is_list(proxied["spec"]["containers"]) and not _k8s.is_map(proxied["spec"]["containers"])
    assert not _k8s.is_list("text") and not _k8s.is_map("text")
    assert [p.path for p in _k8s.pod_specs("kubernetes:core/v1:Pod", proxied)] == ["spec"]
