"""Every command the docs and CI files tell users to run is one that exists here."""

import os
import re
from pathlib import Path

import pytest

from tools.paths import ROOT

DOCS = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "policies" / "README.md", ROOT / ".gitlab-ci.yml",
        *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / ".github" / "workflows").glob("*.yml"))]
# Pulumi CLI subcommands the docs may use (pulumi 3.272).
PULUMI_COMMANDS = {"up", "preview", "stack", "config", "login", "logout", "install", "refresh",
                   "destroy", "state", "cancel", "import", "whoami", "plugin", "policy", "new"}


def run_tasks() -> set[str]:
    script = (ROOT / "run").read_text()
    return set(re.findall(r"^  ([a-z]+)\)(?: |$)", script, re.M))


def command_text(doc: Path) -> str:
    """CI files are all commands; in Markdown, only code blocks and inline code are."""
    text = doc.read_text()
    if doc.suffix == ".yml":
        return text
    fenced = re.findall(r"```[^\n]*\n(.*?)```", text, re.S)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return "\n".join(fenced + inline)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_commands_in_docs_exist(doc):
    text = command_text(doc)
    for task in re.findall(r"\./run ([a-z]+)", text):
        assert task in run_tasks(), f"{doc.name}: ./run {task} does not exist"
    for module in re.findall(r"python -m (tools\.[a-z0-9_.]+)", text):
        path = ROOT / module.replace(".", "/")
        assert path.with_suffix(".py").is_file() or (path / "__main__.py").is_file(), f"{doc.name}: {module}"
    for sub in re.findall(r"(?:^|[\s`$(])pulumi ([a-z-]+)", text):
        assert sub in PULUMI_COMMANDS, f"{doc.name}: pulumi {sub}"
    for script in re.findall(r"(?<![\w/])\.ci/([a-z-]+)", text):
        path = ROOT / ".ci" / script
        assert path.is_file() and os.access(path, os.X_OK), f"{doc.name}: .ci/{script} is not an executable here"


def test_run_tasks_are_read_from_the_script():
    assert {"plan", "test", "policycheck", "bench", "lint"} <= run_tasks()
