"""The CI files parse, wire their jobs correctly, keep every credential off merge-request jobs,
gate prod, and pin what they run (docs/ci.md). The GitLab schema and actionlint checks are in
test_gitlab_schema.py and test_actionlint.py."""

from __future__ import annotations

import re

import pytest
import yaml

from tools.paths import ROOT

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


def _merged(base: dict, over: dict) -> dict:
    """GitLab's `extends` merge: hashes merged key by key, anything else replaced."""
    out = dict(base)
    for key, value in over.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _gitlab_jobs(doc: dict) -> dict[str, dict]:
    """Concrete jobs with `extends` resolved (hidden `.templates` excluded)."""
    def resolved(job: dict) -> dict:
        out: dict = {}
        parents = job.get("extends") or []
        for parent in [parents] if isinstance(parents, str) else parents:
            out = _merged(out, resolved(doc[parent]))
        return _merged(out, {k: v for k, v in job.items() if k != "extends"})
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
        if "||" not in cond and re.search(r"\$CI_COMMIT_(BRANCH|TAG)\b", cond):
            continue  # both are unset in merge request pipelines: a rule that needs one never matches
        return True
    return False


# --- both files ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [GITLAB, GITHUB], ids=["gitlab", "github"])
def test_parses_and_inlines_no_secret(path):
    """A credential is only ever a reference to the platform's store, never a value."""
    text = path.read_text()
    assert isinstance(yaml.safe_load(text), dict)
    assert "-----BEGIN" not in text
    for name in SECRET_NAMES:
        for match in re.finditer(rf"^\s*{name}\s*:\s*(.+)$", text, re.MULTILINE):
            value = match.group(1).strip()
            assert re.fullmatch(r"\$\{\{\s*(secrets|vars)\.[A-Z_]+\s*\}\}|\$[A-Z_]+", value), \
                f"{name} inlined: {value}"
    assert not re.search(r"(passphrase|password|token)\s*[:=]\s*['\"]?[A-Za-z0-9+/]{12,}", text, re.I)


# --- GitLab -----------------------------------------------------------------------------------


def test_gitlab_stages_needs_and_extends_exist():
    """What the schema cannot check: every name a job refers to is defined."""
    doc = _gitlab()
    jobs = _gitlab_jobs(doc)
    for name, job in doc.items():
        if isinstance(job, dict) and name not in GITLAB_RESERVED:
            parents = job.get("extends") or []
            for parent in [parents] if isinstance(parents, str) else parents:
                assert parent in doc, f"{name} extends unknown {parent}"
    for name, job in jobs.items():
        assert job.get("stage") in doc["stages"], name
        for ref in [*(job.get("needs") or []), *(job.get("dependencies") or [])]:
            target = ref["job"] if isinstance(ref, dict) else ref
            assert target in jobs, f"{name} needs unknown job {target}"


def _mr_jobs() -> dict[str, dict]:
    return {n: j for n, j in _gitlab_jobs(_gitlab()).items() if _runs_on_mr(j)}


def test_gitlab_merge_request_jobs_are_the_secret_free_gate():
    """What runs on an MR (unprotected ref, any branch author) holds no credential and needs
    no LAN: the tests, the plan and change report of each stack, and the summary."""
    doc = _gitlab()
    mr = _mr_jobs()
    assert set(mr) == {"test", "gate:dev", "gate:prod", "gate:summary"}, sorted(mr)
    credential = re.compile(r"\$\{?(" + "|".join(SECRET_NAMES) + r"|PREVIEW_[A-Z_]+)\b")
    for name, job in mr.items():
        assert not job.get("tags"), f"{name} would need a LAN runner"
        assert not credential.search(_script(job)), name
        assert not credential.search(str(job.get("variables") or {})), name
        assert "pulumi " not in _script(job), name
    assert not credential.search(str(doc.get("variables") or {}))
    assert ".ci/mr-gate tests" in _script(mr["test"])
    assert mr["test"]["artifacts"]["reports"]["junit"] == "gate-out/junit.xml"
    for stack in ("dev", "prod"):
        job = mr[f"gate:{stack}"]
        assert job["variables"]["STACK"] == stack
        assert '.ci/mr-gate stack "$STACK" "${CI_MERGE_REQUEST_DIFF_BASE_SHA:-}"' in _script(job)
        assert job["variables"]["GIT_DEPTH"] == "0"  # the base commit must be in the clone
        assert job["artifacts"]["expose_as"] and job["artifacts"]["paths"] == [f"gate-out/{stack}/"]
    summary = mr["gate:summary"]
    assert ".ci/mr-gate summary" in _script(summary) and ".ci/mr-note gitlab" in _script(summary)
    assert summary["artifacts"]["expose_as"]


def test_gitlab_credentials_only_on_protected_refs():
    """GitLab gives protected variables to protected refs only; every job that uses one runs
    only there (a preview on the default branch or a maintainer's `preview/*` branch)."""
    for name, job in _gitlab_jobs(_gitlab()).items():
        if "pulumi " not in _script(job):
            continue
        runnable = [r for r in job["rules"] if r.get("when") != "never"]
        assert runnable, name
        for rule in runnable:
            assert '$CI_COMMIT_REF_PROTECTED == "true"' in rule["if"], (name, rule)
        assert job.get("tags") == ["lan"], name


def test_gitlab_preview_uses_the_preview_credential_set():
    jobs = _gitlab_jobs(_gitlab())
    for stack in ("dev", "prod"):
        preview = jobs[f"preview:{stack}"]
        text = _script(preview)
        for part in ("--diff", "--refresh", '--stack "$STACK"', "--policy-pack policies",
                     '--policy-pack-config "policies/config/$STACK.json"',
                     '.ci/preview-config "$STACK"', '--config-file "preview-out/Pulumi.$STACK.yaml"'):
            assert part in text, (stack, part)
        assert preview["variables"]["AWS_ACCESS_KEY_ID"] == "$PREVIEW_AWS_ACCESS_KEY_ID"
        assert "environment" not in preview  # the deploy set is scoped to environments dev/production
        assert "pulumi up" not in text


def test_gitlab_images_are_pinned_tags():
    """Tags here; Renovate's pinDigests (renovate.json) turns each into tag@digest."""
    doc = _gitlab()
    assert doc["default"]["image"] == "python:3.12-bookworm"
    assert doc[".pulumi"]["image"] == f"pulumi/pulumi-python:{PULUMI_VERSION}"


def test_gitlab_caches_pip_and_the_venv_on_the_pins():
    cache = _gitlab()["default"]["cache"]
    assert set(cache["paths"]) == {".cache/pip", "venv/"}
    assert set(cache["key"]["files"]) == {"requirements.txt", "requirements-dev.txt"}  # GitLab allows two
    assert _gitlab()["variables"]["PIP_CACHE_DIR"] == "$CI_PROJECT_DIR/.cache/pip"


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
        assert job["environment"]["name"] == "production"
    for name, job in dev.items():
        assert "--yes" in _script(job)
        assert all("CI_DEFAULT_BRANCH" in r["if"] for r in job["rules"] if r.get("when") != "never")


# --- GitHub -----------------------------------------------------------------------------------


def test_github_triggers():
    on = _github()[True]  # YAML 1.1: the bare key `on` parses as True
    assert "pull_request" in on and "push" in on
    assert "pull_request_target" not in on  # it would hand secrets to a fork's code


def test_github_needs_exist():
    jobs = _github()["jobs"]
    for name, job in jobs.items():
        needs = job.get("needs") or []
        for target in [needs] if isinstance(needs, str) else needs:
            assert target in jobs, f"{name} needs unknown job {target}"


def test_github_actions_are_pinned_by_commit():
    """Every action by a full commit SHA, with the tag it was taken from as a comment."""
    uses = re.findall(r"^\s*-?\s*uses:\s*(\S+)(.*)$", GITHUB.read_text(), re.MULTILINE)
    assert uses
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref
        assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", comment), (ref, comment)
    for job in _github()["jobs"].values():
        for step in job.get("steps") or []:
            if str(step.get("uses", "")).startswith("pulumi/actions"):
                assert str(step["with"]["pulumi-version"]) == PULUMI_VERSION


def test_github_gate_holds_no_secret():
    jobs = _github()["jobs"]
    for name in ("test", "gate", "summary"):
        text = yaml.safe_dump(jobs[name])
        assert "secrets." not in text and "environment" not in jobs[name], name
        assert str(jobs[name]["runs-on"]).startswith("ubuntu-"), name
    assert ".ci/mr-gate tests" in _steps_text(jobs["test"])
    gate = jobs["gate"]
    assert gate["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    assert '.ci/mr-gate stack "$STACK" "$BASE"' in _steps_text(gate)
    checkout = next(s for s in gate["steps"] if "actions/checkout" in str(s.get("uses")))
    assert checkout["with"]["fetch-depth"] == 0
    assert jobs["summary"]["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert ".ci/mr-note github" in _steps_text(jobs["summary"])
    assert _github()["permissions"] == {"contents": "read"}


def test_github_preview_waits_for_reviewers_and_uses_the_preview_set():
    preview = _github()["jobs"]["preview"]
    assert preview["environment"] == "preview"
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    env = preview["env"]
    assert env["AWS_ACCESS_KEY_ID"] == "${{ secrets.PREVIEW_AWS_ACCESS_KEY_ID }}"
    assert "PULUMI_ACCESS_TOKEN" not in env
    assert "head.repo.full_name == github.repository" in preview["if"]
    text = _steps_text(preview)
    assert "--diff" in text and "--refresh" in text and "--policy-pack policies" in text
    assert '.ci/preview-config "$STACK"' in text
    assert "pulumi up" not in text


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
