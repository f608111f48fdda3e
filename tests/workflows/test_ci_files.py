"""The CI files parse, wire their jobs correctly, gate prod and keep secrets out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GITLAB = ROOT / ".gitlab-ci.yml"
GITHUB = ROOT / ".github" / "workflows" / "ci.yml"
PULUMI_VERSION = "3.272.0"
SECRET_NAMES = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN",
                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
GITLAB_RESERVED = {"image", "stages", "workflow", "variables", "default", "include", "services",
                   "before_script", "after_script", "cache"}


def _gitlab() -> dict:
    return yaml.safe_load(GITLAB.read_text())


def _github() -> dict:
    return yaml.safe_load(GITHUB.read_text())


def _gitlab_jobs(doc: dict) -> dict[str, dict]:
    """Concrete jobs with `extends` resolved (hidden `.templates` excluded)."""
    def resolved(job: dict) -> dict:
        out: dict = {}
        parents = job.get("extends") or []
        for parent in [parents] if isinstance(parents, str) else parents:
            out.update(resolved(doc[parent]))
        out.update({k: v for k, v in job.items() if k != "extends"})
        return out
    return {name: resolved(job) for name, job in doc.items()
            if name not in GITLAB_RESERVED and not name.startswith(".") and isinstance(job, dict)}


def _script(job: dict) -> str:
    lines = []
    for key in ("before_script", "script", "after_script"):
        value = job.get(key) or []
        lines += [value] if isinstance(value, str) else list(value)
    return "\n".join(lines)


def _steps_text(job: dict) -> str:
    return "\n".join(str(step.get("run", "")) for step in job.get("steps") or [])


def _runs_on_mr(job: dict) -> bool:
    """A GitLab job runs on merge requests unless its rules say never for them."""
    rules = job.get("rules")
    if rules is None:
        return True  # workflow admits merge requests; no rules = always
    for rule in rules:
        cond = rule.get("if", "")
        if "merge_request_event" in cond and "==" in cond:
            return rule.get("when") != "never"
        if "CI_DEFAULT_BRANCH" in cond and "CI_COMMIT_BRANCH" in cond:
            continue  # CI_COMMIT_BRANCH is unset in merge request pipelines
        return True
    return False


# --- both files ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [GITLAB, GITHUB], ids=["gitlab", "github"])
def test_parses_and_inlines_no_secret(path):
    text = path.read_text()
    assert isinstance(yaml.safe_load(text), dict)
    assert "-----BEGIN" not in text
    for name in SECRET_NAMES:
        for match in re.finditer(rf"^\s*{name}\s*:\s*(.+)$", text, re.MULTILINE):
            value = match.group(1).strip()
            assert re.fullmatch(rf"\$\{{\{{\s*secrets\.{name}\s*\}}\}}", value), f"{name} inlined: {value}"
    assert not re.search(r"(passphrase|password|token)\s*[:=]\s*['\"]?[A-Za-z0-9+/]{12,}", text, re.I)


def test_gitlab_defines_no_secret_variables():
    doc = _gitlab()
    for scope in [doc, *_gitlab_jobs(doc).values()]:
        assert not set(SECRET_NAMES) & set(scope.get("variables") or {})


# --- GitLab -----------------------------------------------------------------------------------


def test_gitlab_image_is_pinned():
    assert _gitlab()["image"] == f"pulumi/pulumi-python:{PULUMI_VERSION}"


def test_gitlab_needs_exist():
    doc = _gitlab()
    jobs = _gitlab_jobs(doc)
    stages = doc["stages"]
    for name, job in jobs.items():
        assert job.get("stage") in stages, name
        for ref in [*(job.get("needs") or []), *(job.get("dependencies") or [])]:
            target = ref["job"] if isinstance(ref, dict) else ref
            assert target in jobs, f"{name} needs unknown job {target}"


def test_gitlab_runs_tests_plans_and_previews_on_merge_requests():
    jobs = _gitlab_jobs(_gitlab())
    mr = {n: j for n, j in jobs.items() if _runs_on_mr(j)}
    scripts = "\n".join(_script(j) for j in mr.values())
    assert "./run test" in scripts
    for stack in ("dev", "prod"):
        plan = next(j for j in mr.values() if j.get("variables", {}).get("STACK") == stack
                    and "./run plan" in _script(j))
        assert "plan-out/" in plan["artifacts"]["paths"]
        preview = next(j for j in mr.values() if j.get("variables", {}).get("STACK") == stack
                       and "pulumi preview" in _script(j))
        text = _script(preview)
        for part in ("--diff", '--stack "$STACK"', "--policy-pack policies",
                     '--policy-pack-config "policies/config/$STACK.json"'):
            assert part in text
        assert preview["artifacts"]["paths"]


def test_gitlab_no_merge_request_job_runs_up():
    for name, job in _gitlab_jobs(_gitlab()).items():
        if "pulumi up" in _script(job):
            assert not _runs_on_mr(job), name


def test_gitlab_prod_up_is_manual_only():
    jobs = _gitlab_jobs(_gitlab())
    up_jobs = {n: j for n, j in jobs.items() if "pulumi up" in _script(j)}
    prod = {n: j for n, j in up_jobs.items() if "--stack prod" in _script(j)}
    dev = {n: j for n, j in up_jobs.items() if "--stack dev" in _script(j)}
    assert prod and dev
    for name, job in prod.items():
        runnable = [r for r in job["rules"] if r.get("when") != "never"]
        assert runnable and all(r.get("when") == "manual" for r in runnable), name
        assert all("CI_DEFAULT_BRANCH" in r["if"] for r in runnable), name
    for name, job in dev.items():
        assert "--yes" in _script(job)
        assert all("CI_DEFAULT_BRANCH" in r["if"] for r in job["rules"] if r.get("when") != "never")


# --- GitHub -----------------------------------------------------------------------------------


def test_github_triggers():
    on = _github()[True]  # YAML 1.1: the bare key `on` parses as True
    assert "pull_request" in on and "push" in on


def test_github_needs_exist():
    jobs = _github()["jobs"]
    for name, job in jobs.items():
        needs = job.get("needs") or []
        for target in [needs] if isinstance(needs, str) else needs:
            assert target in jobs, f"{name} needs unknown job {target}"


def test_github_pulumi_is_pinned():
    jobs = _github()["jobs"]
    for job in jobs.values():
        for step in job.get("steps") or []:
            if str(step.get("uses", "")).startswith("pulumi/actions"):
                assert step["uses"] == "pulumi/actions@v6"
                assert str(step["with"]["pulumi-version"]) == PULUMI_VERSION


def test_github_previews_both_stacks_with_policies():
    jobs = _github()["jobs"]
    assert "./run test" in _steps_text(jobs["test"])
    preview = next(j for j in jobs.values() if "pulumi preview" in _steps_text(j))
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    text = _steps_text(preview)
    assert "--diff" in text and "--policy-pack policies" in text
    assert "--policy-pack-config policies/config/${{ matrix.stack }}.json" in text
    assert any("upload-artifact" in str(s.get("uses")) for s in preview["steps"])
    plan = next(j for j in jobs.values() if "./run plan" in _steps_text(j))
    assert plan["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    assert any("upload-artifact" in str(s.get("uses")) for s in plan["steps"])


def test_github_up_never_on_pull_requests_and_prod_needs_approval():
    jobs = _github()["jobs"]
    up_jobs = {n: j for n, j in jobs.items() if "pulumi up" in _steps_text(j)}
    assert up_jobs
    for name, job in up_jobs.items():
        cond = job.get("if", "")
        assert "github.event_name != 'pull_request'" in cond, name
        assert "default_branch" in cond, name
    prod = [n for n, j in up_jobs.items() if "--stack prod" in _steps_text(j)]
    assert prod
    for name in prod:
        env = jobs[name].get("environment")
        assert (env.get("name") if isinstance(env, dict) else env) == "production", name
        assert "--stack dev" not in _steps_text(jobs[name])
    for name, job in up_jobs.items():
        if name not in prod:
            env = job.get("environment")
            assert (env.get("name") if isinstance(env, dict) else env) != "production"
