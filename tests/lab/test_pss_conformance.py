"""Scenario (6c): the real Pod Security admission agrees with the conformance fixtures the
policy pack is tested against (``../shared/conformance/pss/``, see
tests/policies/test_conformance.py): in a tenant namespace of each stack, every
``restricted/fail`` and ``baseline/fail`` pod is refused by Pod Security admission
(``restricted`` includes ``baseline``) and every ``restricted/pass`` pod is admitted
(``--dry-run=server``: the whole admission chain, nothing stored).

The fixtures are Kubernetes 1.37's; ``pass/sysctls1.yaml`` uses two sysctls that Pod Security
allows only from 1.37, so a 1.34 API server must refuse it — the same version note as
tests/policies/test_conformance.py, where the pack refuses it at 1.34. Their names
(``base_linux``) are not valid object names, so each pod is renamed (``_`` to ``-``).
``fail/procmount0`` and ``procmount1`` never reach admission at 1.34: validation refuses
``procMount: Unmasked`` without ``hostUsers: false`` — refused all the same, for that reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.lab.test_admission import tenant_namespaces, wait_quota_status
from tools.paths import ROOT

PSS = ROOT.parent / "shared" / "conformance" / "pss"
# restricted/pass fixtures a 1.34 API server refuses, and the words it must refuse them with
# fail fixtures a 1.34 API server refuses before admission, in validation (they set procMount
# Unmasked without hostUsers: false), and the words it refuses them with — measured in the lab
REFUSED_BY_VALIDATION = {"procmount0": "`hostUsers` must be false to use `Unmasked`",
                         "procmount1": "`hostUsers` must be false to use `Unmasked`"}
REFUSED_AT_1_34 = {"sysctls1": "forbidden sysctls (net.ipv4.tcp_slow_start_after_idle, net.ipv4.tcp_notsent_lowat)"}


def fixtures(*parts: str) -> list[Path]:
    return sorted((PSS.joinpath(*parts)).glob("*.yaml"))


@pytest.fixture(scope="session")
def tenant_ns(stack_lab):
    lab, result = stack_lab
    if not PSS.is_dir():
        pytest.skip(f"no conformance fixtures at {PSS}")
    ns = sorted(tenant_namespaces(result))[0]
    wait_quota_status(lab, ns)
    return ns


def dry_run(lab, path: Path, ns: str):
    pod = yaml.safe_load(path.read_text())
    pod.setdefault("metadata", {}).update(namespace=ns, name=path.stem.replace("_", "-"))
    return lab.kubectl("create", "--dry-run=server", "-f", "-", "-o", "name", input=yaml.safe_dump(pod))


def test_fail_fixtures_refused_by_pod_security(stack_lab, tenant_ns):
    lab, result = stack_lab
    paths = fixtures("restricted", "fail") + fixtures("baseline", "fail")
    assert len(paths) > 50
    wrong = []
    for path in paths:
        proc = dry_run(lab, path, tenant_ns)
        if proc.returncode == 0:
            wrong.append(f"{path.parent.parent.name}/fail/{path.name}: ADMITTED")
        elif path.stem in REFUSED_BY_VALIDATION:
            if REFUSED_BY_VALIDATION[path.stem] not in proc.stderr:
                wrong.append(f"{path.parent.parent.name}/fail/{path.name}: refused, not as expected: {proc.stderr.strip()}")
        elif 'violates PodSecurity "restricted:v1.34"' not in proc.stderr:
            wrong.append(f"{path.parent.parent.name}/fail/{path.name}: refused, but not by Pod Security: "
                         f"{proc.stderr.strip()}")
    assert not wrong, f"{result.stack}/{tenant_ns}:\n" + "\n".join(wrong)


def test_pass_fixtures_admitted(stack_lab, tenant_ns):
    lab, result = stack_lab
    paths = fixtures("restricted", "pass")
    assert paths and set(REFUSED_AT_1_34) <= {p.stem for p in paths}
    wrong = []
    for path in paths:
        proc = dry_run(lab, path, tenant_ns)
        if path.stem in REFUSED_AT_1_34:
            want = f'violates PodSecurity "restricted:v1.34": {REFUSED_AT_1_34[path.stem]}'
            if proc.returncode == 0 or want not in proc.stderr:
                wrong.append(f"restricted/pass/{path.name}: a 1.34 server must refuse it with {want!r}; got "
                             f"{proc.stderr.strip() or 'ADMITTED'}")
        elif proc.returncode != 0:
            wrong.append(f"restricted/pass/{path.name}: refused: {proc.stderr.strip()}")
    assert not wrong, f"{result.stack}/{tenant_ns}:\n" + "\n".join(wrong)
