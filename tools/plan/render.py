"""Turn one captured stack run into the offline plan's files (pure: data in, files out).

Layout of DIR:
  summary.json                 every resource: urn, type, name, parent, dependsOn, aliases (URNs), inputs
  manifests/<ns|_cluster>/<kind>-<name>.yaml   each Kubernetes object, secrets redacted
  charts/<name>.yaml           each Helm chart: chart, version, repository, values
  nodes/<node>/                rendered k3s config and the scripts run over SSH
  router/<name>.json           each pfSense object's payload
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

from components import names
from tools.imitations.harness import SECRET, Registration, StackRun, redact

HELM_CHART = names.HELM_RELEASE
DYNAMIC_PREFIX = "pulumi-python:dynamic"
RENDERED_STEPS = ("prepare", "cas", "config", "install", "upgrade")  # of names.NODE_STEPS


def _clean_inputs(reg: Registration) -> dict:
    inputs = redact(reg.inputs)
    if "__provider" in inputs:
        inputs["__provider"] = "[pickled dynamic provider]"
    return _plain(inputs)


def _plain(value: Any) -> Any:
    """Assets and other SDK objects as plain, deterministic data."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "text") and value.__class__.__name__ == "StringAsset":
        return {"asset": "string", "text": value.text}
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire carries every number as a double
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def dependencies(reg: Registration) -> list[str]:
    deps = set(reg.dependencies)
    for urns in reg.property_dependencies.values():
        deps.update(urns)
    deps.discard(reg.parent or "")
    return sorted(deps)


def resources(run: StackRun) -> list[dict]:
    out = []
    for reg in sorted(run.registrations, key=lambda r: r.urn):
        out.append({
            "urn": reg.urn, "type": reg.type, "name": reg.name, "parent": reg.parent,
            "dependsOn": dependencies(reg), "provider": reg.provider, "protect": reg.protect,
            # The URNs the resource was known by: a state holding one of them moves here.
            "aliases": sorted(reg.aliases),
            "inputs": _clean_inputs(reg),
        })
    return out


def is_k8s_object(reg: Registration) -> bool:
    return (reg.type.startswith("kubernetes:") and reg.custom and reg.type != HELM_CHART
            and not reg.type.startswith("pulumi:providers:"))


def k8s_objects(run: StackRun) -> list[dict]:
    """Every Kubernetes object the program creates, in wire form, secrets redacted."""
    return [_clean_inputs(r) for r in sorted(run.registrations, key=lambda r: r.urn) if is_k8s_object(r)]


def manifest_path(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or "_cluster"
    return f"manifests/{ns}/{obj.get('kind')}-{meta.get('name')}.yaml"


def layer_of(reg: Registration, by_urn: dict[str, Registration]) -> str:
    """The layer a resource belongs to: the `k3s-platform:<layer>:` component above it."""
    current: Registration | None = reg
    while current is not None:
        if current.type.startswith("k3s-platform:") and current.type.split(":")[1] != "index":
            return current.type.split(":")[1]
        current = by_urn.get(current.parent or "")
    return "platform-root"


def node_files(run: StackRun) -> dict[str, str]:
    """nodes/<node>/<file> -> text, from the remote steps the cluster registers."""
    files: dict[str, str] = {}
    clusters = [r.name for r in run.by_type(names.K3S_CLUSTER)]
    for reg in run.registrations:
        if not reg.type.startswith("command:remote:"):
            continue
        parsed = names.parse_node_step(reg.name, clusters)
        if parsed is not None and parsed[2] in RENDERED_STEPS:
            _, node, step = parsed
            inputs = _clean_inputs(reg)
            if step == "config":
                files[f"nodes/{node}/config.yaml"] = inputs["source"]["text"]
            else:
                files[f"nodes/{node}/{step}.sh"] = inputs["create"]
                if step == "install" and inputs.get("delete"):
                    files[f"nodes/{node}/uninstall.sh"] = inputs["delete"]
    return files


def chart_files(run: StackRun) -> dict[str, str]:
    out = {}
    for reg in run.by_type(HELM_CHART):
        out[f"charts/{reg.name}.yaml"] = _yaml(_clean_inputs(reg))
    return out


def router_files(run: StackRun) -> dict[str, str]:
    out = {}
    for reg in sorted(run.registrations, key=lambda r: r.name):
        if not reg.type.startswith(DYNAMIC_PREFIX):
            continue
        inputs = _clean_inputs(reg)
        inputs.pop("__provider", None)
        out[f"router/{reg.name}.json"] = json.dumps(inputs, indent=2, sort_keys=True) + "\n"
    return out


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=True, default_flow_style=False)


def k8s_objects_of(run: StackRun, resource_list: list[dict]) -> list[dict]:
    """`k8s_objects(run)` read off `resources(run)`: the same dicts, not cleaned a second time."""
    wanted = {r.urn for r in run.registrations if is_k8s_object(r)}
    return [r["inputs"] for r in resource_list if r["urn"] in wanted]


def summary(run: StackRun, violations: list[dict], resource_list: list[dict] | None = None) -> dict:
    return {"stack": run.stack, "resources": resources(run) if resource_list is None else resource_list,
            "violations": violations}


def plan_files(run: StackRun, violations: list[dict], extra: dict[str, str] | None = None, *,
               resource_list: list[dict] | None = None, objects: list[dict] | None = None) -> dict[str, str]:
    """Every file of the plan, path -> text. Deterministic for a given run.

    `resource_list` and `objects` are `resources(run)` and `k8s_objects(run)` when the caller
    already has them (the plan builds them once for validation and policies).
    """
    if resource_list is None:
        resource_list = resources(run)
    if objects is None:
        objects = k8s_objects_of(run, resource_list)
    files: dict[str, str] = {
        "summary.json": json.dumps(summary(run, violations, resource_list), indent=2, sort_keys=True) + "\n"}
    for obj in objects:
        files[manifest_path(obj)] = _yaml(obj)
    files.update(node_files(run))
    files.update(chart_files(run))
    files.update(router_files(run))
    files.update(extra or {})
    return files


def write_files(out_dir: Path, files: dict[str, str]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for rel, text in sorted(files.items()):
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def human_summary(run: StackRun, violations: list[dict]) -> str:
    by_urn = {r.urn: r for r in run.registrations}
    per_layer: dict[str, Counter] = defaultdict(Counter)
    # Custom resources (the chart Releases among them: helm renders their objects only in a
    # real run; tests/stacks/test_chart_render.py checks them with helm in CI).
    shown = [r for r in run.registrations if r.custom]
    for reg in shown:
        per_layer[layer_of(reg, by_urn)][reg.type] += 1
    lines = [f"stack {run.stack}: {len(shown)} resources and charts "
             f"({len(run.registrations)} registrations with components)"]
    for layer in sorted(per_layer):
        lines.append(f"  {layer}: {sum(per_layer[layer].values())}")
        for type_, count in sorted(per_layer[layer].items()):
            lines.append(f"    {count:4d}  {type_}")
    mandatory = [v for v in violations if v.get("enforcement") == "mandatory"]
    lines.append(f"policy violations: {len(mandatory)} mandatory, {len(violations) - len(mandatory)} advisory")
    for v in violations:
        lines.append(f"  [{v['enforcement']}] {v['policy']}  {v['resource']}  {v['message']}")
    return "\n".join(lines)


__all__ = ["plan_files", "write_files", "human_summary", "k8s_objects", "SECRET"]
