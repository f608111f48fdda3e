"""Build the offline plan of one stack: run, validate, check policies, render files.

Each stage's work is done once: the resources are cleaned (secrets redacted, plain data)
once and the Kubernetes objects are those same dicts, shared by validation, the policy
pack, the who-can matrix and the files. With a `progress` callable, each stage reports one
line (what it did, counts, seconds) as it ends.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from components.platform.rbac import APPOPS_BINDING, PLATOPS_BINDING
from tools import pack_settings
from tools.imitations import policy_runner, schemas
from tools.imitations.harness import ConfigFileError, StackRun, run_stack, stack_config
from tools.imitations.whocan import Subject, rbac_matrix_markdown
from tools.plan import render
from tools.plan.diagram import GraphvizMissing, architecture_dot, render_svg_png

Progress = Callable[[str], None]


class PlanFailure(Exception):
    """The plan could not be built (invalid config, unreadable file); the message says why."""


@dataclass
class Plan:
    run: StackRun
    files: dict[str, str]
    summary_text: str
    schema_errors: list[str] = field(default_factory=list)
    violations: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # config that is allowed but widens access

    @property
    def failed(self) -> bool:
        return bool(self.schema_errors) or any(v["enforcement"] == "mandatory" for v in self.violations)

    def write(self, out: Path, progress: Progress | None = None) -> list[str]:
        """Write the files and draw architecture.svg/.png; returns notes for the user (one
        line when Graphviz is missing: the plan is complete without the pictures)."""
        started = time.perf_counter()
        render.write_files(out, self.files)
        notes = []
        try:
            render_svg_png(self.files["architecture.dot"], out)  # architecture.svg + .png
            pictures = 2
        except GraphvizMissing:
            pictures = 0
            notes.append("architecture.svg/.png skipped: graphviz's `dot` is not on PATH; "
                         "architecture.dot is written — apt-get install graphviz to draw them")
        _report(progress, "files written", f"{len(self.files) + pictures} files", started)
        return notes


def _report(progress: Progress | None, stage: str, counts: str, started: float) -> None:
    if progress is not None:
        progress(f"plan: {stage}: {counts} in {time.perf_counter() - started:.1f} s")


def run_program(stack: str, config_file: Path | None, program=None) -> StackRun:
    import pulumi

    try:
        return run_stack(stack, config_file, program=program)
    except ConfigFileError as err:
        raise PlanFailure(str(err)) from None
    except pulumi.RunError as err:
        raise PlanFailure(str(err)) from None


ANY_NAMESPACE = "(any namespace)"


def report_namespaces(tenant_namespaces: list[str]) -> list[str]:
    """Rows of the who-can matrix. A stack with no tenants is valid: then one row, asked in a
    namespace no tenant binding reaches, so what PlatOps holds cluster-wide still shows."""
    return sorted(tenant_namespaces) or [ANY_NAMESPACE]


def rbac_report(objects: list[dict]) -> str:
    """The who-can matrix of both personas (their groups) and of every person of `people`
    (their User bindings), read off the objects the program emits."""
    subjects: dict[str, Subject] = {}
    people: dict[str, Subject] = {}
    namespaces: list[str] = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        kind, name = obj.get("kind"), str(meta.get("name", ""))
        if kind == "ClusterRoleBinding" and name == PLATOPS_BINDING:
            for s in obj.get("subjects") or []:
                subjects[f"PlatOps ({s['name']})"] = Subject(s["kind"], s["name"])
        if kind == "RoleBinding" and name == APPOPS_BINDING:
            namespaces.append(meta["namespace"])
            for s in obj.get("subjects") or []:
                subjects[f"AppOps ({s['name']})"] = Subject(s["kind"], s["name"])
        persona = {"ClusterRoleBinding": "PlatOps", "RoleBinding": "AppOps"}.get(str(kind))
        if persona and (name.startswith("platops-") or name.startswith("appops-")):
            for s in obj.get("subjects") or []:
                if s.get("kind") == "User":
                    people.setdefault(f"{persona} person {s['name']}", Subject("User", s["name"]))
    subjects.update(sorted(people.items()))
    if not subjects:
        return "# RBAC who-can matrix\n\nThis stack binds no persona.\n"
    return rbac_matrix_markdown(objects, personas=subjects, namespaces=report_namespaces(namespaces))


def policy_resources(resource_list: list[dict]) -> list[dict]:
    """The analyzer's view of the stack: every resource but our own components."""
    return [
        {"urn": r["urn"], "type": r["type"], "name": r["name"], "properties": r["inputs"],
         "parent": r["parent"], "dependencies": r["dependsOn"], "provider": r["provider"]}
        for r in resource_list if not r["type"].startswith("k3s-platform:")
    ]


def check_policies(run: StackRun, resource_list: list[dict] | None = None, config=None,
                   outputs_unknown: frozenset[str] | set[str] = frozenset()) -> list[dict]:
    """Feed every resource to the policy pack's analyzer, as `pulumi preview --policy-pack` does.

    config: the stack's StackConfig; the pack settings that follow it must agree with the
    pack config file (tools/pack_settings.py), or the plan stops naming the entry to write.
    """
    resources = policy_resources(render.resources(run) if resource_list is None else resource_list)
    config_path = policy_runner.PACK_DIR / "config" / f"{run.stack}.json"
    raw = policy_runner.load_stack_config(run.stack) if config_path.is_file() else {}
    if config is not None:
        mismatches = pack_settings.disagreements(run.stack, config, raw)
        if mismatches:
            raise PlanFailure("the policy pack would not see the stack's config:\n  " + "\n  ".join(mismatches))
    found = policy_runner.check_resources(resources, config=raw, outputs_unknown=outputs_unknown)
    return [{"policy": v.policy, "enforcement": v.enforcement, "resource": v.kind_ref(),
             "urn": v.urn, "message": v.message} for v in found]


def checked_config(stack: str, config_file: Path | None):
    """The stack's validated config, or a PlanFailure naming the file it came from."""
    from components.config import ConfigError

    try:
        return stack_config(stack, config_file)
    except ConfigFileError as err:
        raise PlanFailure(str(err)) from None
    except ConfigError as err:
        raise PlanFailure(err.report(stack, source=str(config_file) if config_file else None)) from None


def stack_policy_violations(run: StackRun, stack: str, config_file: Path | None) -> list[dict]:
    """The pack over one run, with the stack's own settings (the change modes' new side); a
    settings mismatch is reported as the config error it is."""
    try:
        return check_policies(run, config=stack_config(stack, config_file))
    except PlanFailure as err:
        raise ConfigFileError(str(err)) from None


def build_plan(stack: str, config_file: Path | None = None, program=None, progress: Progress | None = None) -> Plan:
    started = time.perf_counter()
    config = checked_config(stack, config_file)  # before the run: its errors name the file read
    run = run_program(stack, config_file, program)
    _report(progress, "stack evaluated", f"{len(run.registrations)} registrations", started)
    with _settled_heap():
        plan = _check_and_render(run, config, progress)
    from components.config import config_warnings

    plan.warnings = config_warnings(config)
    return plan


@contextlib.contextmanager
def _settled_heap():
    """Keep the cyclic garbage collector off what the evaluation left (gc.freeze) while the
    plan is checked and rendered; unfrozen after. At 1,000 tenants that is close to a
    gigabyte of objects the collector would otherwise walk on every full collection, though
    none of it becomes garbage before the plan is done."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _check_and_render(run: StackRun, config, progress: Progress | None) -> Plan:
    started = time.perf_counter()
    resource_list = render.resources(run)
    objects = render.k8s_objects_of(run, resource_list)
    schema_errors = schemas.validate_all(objects, config.cluster.kubernetes_minor)
    _report(progress, "objects validated", f"{len(objects)} objects, {len(schema_errors)} errors", started)
    started = time.perf_counter()
    violations = check_policies(run, resource_list, config)
    _report(progress, "policies checked",
            f"{len(resource_list) - sum(r['type'].startswith('k3s-platform:') for r in resource_list)} resources, "
            f"{len(violations)} violations", started)
    started = time.perf_counter()
    files = render.plan_files(run, violations, {"rbac.md": rbac_report(objects),
                                                "architecture.dot": architecture_dot(run, config)},
                              resource_list=resource_list, objects=objects)
    _report(progress, "files rendered", f"{len(files)} files", started)
    text = render.human_summary(run, violations)
    if schema_errors:
        text += "\nschema errors:\n" + "\n".join(f"  {e}" for e in schema_errors)
    return Plan(run, files, text, schema_errors, violations)
