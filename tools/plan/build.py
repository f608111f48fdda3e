"""Build the offline plan of one stack: run, validate, check policies, render files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from components.platform import personas as persona_specs
from components.platform.whocan import Subject, rbac_matrix_markdown
from tools import pack_settings, policy_runner, schemas
from tools.harness import ConfigFileError, StackRun, run_stack, stack_config
from tools.plan import render
from tools.plan.diagram import architecture_dot, render_svg_png


class PlanFailure(Exception):
    """The plan could not be built (invalid config, unreadable file); the message says why."""


@dataclass
class Plan:
    run: StackRun
    files: dict[str, str]
    summary_text: str
    schema_errors: list[str] = field(default_factory=list)
    violations: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.schema_errors) or any(v["enforcement"] == "mandatory" for v in self.violations)

    def write(self, out: Path) -> None:
        render.write_files(out, self.files)
        render_svg_png(self.files["architecture.dot"], out)  # architecture.svg + .png


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
    """The who-can matrix of both personas, read off the objects the program emits."""
    subjects: dict[str, Subject] = {}
    namespaces: list[str] = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        if obj.get("kind") == "ClusterRoleBinding" and meta.get("name") == persona_specs.PLATOPS_BINDING:
            for s in obj.get("subjects") or []:
                subjects[f"PlatOps ({s['name']})"] = Subject(s["kind"], s["name"])
        if obj.get("kind") == "RoleBinding" and meta.get("name") == persona_specs.APPOPS_BINDING:
            namespaces.append(meta["namespace"])
            for s in obj.get("subjects") or []:
                subjects[f"AppOps ({s['name']})"] = Subject(s["kind"], s["name"])
    if not subjects:
        return "# RBAC who-can matrix\n\nThis stack binds no persona.\n"
    return rbac_matrix_markdown(objects, personas=subjects, namespaces=report_namespaces(namespaces))


def check_policies(run: StackRun, config=None) -> list[dict]:
    """Feed every resource to the policy pack's analyzer, as `pulumi preview --policy-pack` does.

    config: the stack's StackConfig; the pack settings that follow it must agree with the
    pack config file (tools/pack_settings.py), or the plan stops naming the entry to write.
    """
    resources = [
        {"urn": r["urn"], "type": r["type"], "name": r["name"], "properties": r["inputs"],
         "parent": r["parent"], "dependencies": r["dependsOn"], "provider": r["provider"]}
        for r in render.resources(run) if not r["type"].startswith("k3s-platform:")
    ]
    config_path = policy_runner.PACK_DIR / "config" / f"{run.stack}.json"
    raw = policy_runner.load_stack_config(run.stack) if config_path.is_file() else {}
    if config is not None:
        mismatches = pack_settings.disagreements(run.stack, config, raw)
        if mismatches:
            raise PlanFailure("the policy pack would not see the stack's config:\n  " + "\n  ".join(mismatches))
    found = policy_runner.check_resources(resources, config=raw)
    return [{"policy": v.policy, "enforcement": v.enforcement, "resource": v.kind_ref(),
             "urn": v.urn, "message": v.message} for v in found]


def build_plan(stack: str, config_file: Path | None = None, program=None) -> Plan:
    run = run_program(stack, config_file, program)
    config = stack_config(stack, config_file)  # valid: the program just ran on it
    objects = render.k8s_objects(run)
    schema_errors = schemas.validate_all(objects, config.cluster.kubernetes_minor)
    violations = check_policies(run, config)
    files = render.plan_files(run, violations, {"rbac.md": rbac_report(objects),
                                                "architecture.dot": architecture_dot(run)})
    text = render.human_summary(run, violations)
    if schema_errors:
        text += "\nschema errors:\n" + "\n".join(f"  {e}" for e in schema_errors)
    return Plan(run, files, text, schema_errors, violations)
