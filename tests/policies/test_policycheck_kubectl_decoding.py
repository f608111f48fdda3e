"""Issue 27, cause 2: policycheck judges manifests as kubectl and the API server decode them.

Upstream Pod Security's own verdicts are the oracle: every restricted fixture
(../shared/conformance/pss, kubernetes/pod-security-admission v1.37) is re-spelled with
scalars that go-yaml v2 — what kubectl's sigs.k8s.io/yaml uses — decodes to the very same
values (`true` as `Y`, `yes`, `on`; `0` as `0o0`, `0e0`, `0x0`), so upstream's verdict for the
re-spelled pod is the verdict for the original. Each spelling set must reproduce it: all pass
pods accepted, every fail pod rejected for its control. Python's YAML 1.1 loader reads several
of these spellings as strings and let root or privilege-escalating pods through.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.policies.helpers import ROOT
from tests.policies.test_conformance import EXPECTED, RESTRICTED, by_object

_SCALAR = re.compile(r"^(\s*(?:- )?[A-Za-z][A-Za-z0-9]*: )(true|false|\d+)$")

# name -> (true, false, how an integer n is written); each decodes in go-yaml v2 to the original.
SPELLINGS = {
    "yes-no-0o": ("yes", "no", lambda n: f"0o{n:o}"),
    "Y-n-hex": ("Y", "n", lambda n: f"0x{n:x}"),
    "on-off-exponent": ("on", "off", lambda n: f"{n}e0"),
    "y-N-old-octal": ("y", "N", lambda n: f"0{n:o}"),
    "YES-Off-underscores": ("YES", "Off", lambda n: "_".join(str(n)) if n > 9 else f"+{n}"),
    "On-NO-float": ("On", "NO", lambda n: f"{n}.0"),
}


def _respell(text: str, true: str, false: str, number) -> tuple[str, int]:
    out, changed = [], 0
    for line in text.splitlines():
        match = _SCALAR.match(line)
        if match:
            value = match.group(2)
            line = match.group(1) + (true if value == "true" else false if value == "false" else number(int(value)))
            changed += 1
        out.append(line)
    return "\n".join(out) + "\n", changed


def _policycheck(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.policycheck", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def k137(tmp_path_factory) -> Path:
    config = tmp_path_factory.mktemp("cfg") / "k137.json"
    config.write_text(json.dumps({"pod-security-restricted": {"kubernetesVersion": "1.37"}}))
    return config


def _respelled(tmp_path: Path, spelling: str, folder: str) -> Path:
    true, false, number = SPELLINGS[spelling]
    out = tmp_path / folder
    out.mkdir()
    total = 0
    for src in sorted((RESTRICTED / folder).glob("*.yaml")):
        text, changed = _respell(src.read_text(), true, false, number)
        (out / src.name).write_text(text)
        total += changed
    assert total > 20, "the re-spelling must touch the fixtures' booleans and numbers"
    return out


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_respelled_pass_pods_are_accepted(tmp_path, k137, spelling):
    run = _policycheck("--only", "pod-security", "--config", str(k137), str(_respelled(tmp_path, spelling, "pass")))
    assert run.returncode == 0 and run.stdout == "", run.stdout + run.stderr


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_respelled_fail_pods_are_rejected_for_their_control(tmp_path, k137, spelling):
    folder = _respelled(tmp_path, spelling, "fail")
    run = _policycheck("--only", "pod-security", "--config", str(k137), str(folder))
    assert run.returncode == 1, run.stderr
    found = by_object(run.stdout)
    names = sorted(p.stem for p in folder.glob("*.yaml"))
    assert sorted(found) == names, sorted(set(names) - set(found))
    for name in names:
        prefix = max((p for p in EXPECTED if name.startswith(p)), key=len)
        assert any(EXPECTED[prefix] in m for m in found[name]), (name, found[name])


POD = """apiVersion: v1
kind: Pod
metadata: {{name: p, creationTimestamp: 2024-01-01}}
spec:
  securityContext: {{runAsNonRoot: true, seccompProfile: {{type: RuntimeDefault}}}}
  containers:
  - name: c
    image: registry.k8s.io/pause
    securityContext: {{allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}{extra}}}
"""


@pytest.mark.parametrize("extra", [", runAsUser: .nan", ", runAsUser: -.Inf", ", runAsUser: .INF"])
def test_nan_and_infinity_are_refused_by_name(tmp_path, extra):
    path = tmp_path / "pod.yaml"
    path.write_text(POD.format(extra=extra))
    run = _policycheck("--only", "pod-security", str(path))
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert "spec.containers[0].securityContext.runAsUser" in run.stderr and "finite" in run.stderr


@pytest.mark.parametrize("extra", ["", ", procMount: !!binary RGVmYXVsdA==", ", seLinuxOptions: !!set {}"])
def test_dates_binary_and_sets_are_read_without_a_traceback(tmp_path, extra):
    path = tmp_path / "pod.yaml"
    path.write_text(POD.format(extra=extra))
    run = _policycheck("--only", "pod-security", str(path))
    assert "Traceback" not in run.stderr and run.returncode in (0, 1), run.stderr


@pytest.mark.parametrize("nan", ["NaN", "Infinity", "-Infinity"])
def test_json_nan_is_refused(tmp_path, nan):
    path = tmp_path / "pod.json"
    path.write_text('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": ' + nan + "}}")
    run = _policycheck(str(path))
    assert run.returncode == 2 and "Traceback" not in run.stderr and "NaN or infinity" in run.stderr


@pytest.mark.parametrize("empty", ["", " "])
def test_an_empty_path_is_refused_not_the_working_directory(empty):
    run = _policycheck(empty)
    assert run.returncode == 2 and "empty PATH" in run.stderr
