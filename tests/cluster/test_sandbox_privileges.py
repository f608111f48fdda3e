"""The host sandbox's tests on a runner without CAP_SYS_ADMIN (root in a default docker
container): they skip with the reason and are counted by name; under K3SP_REQUIRE_PRIVILEGED=1
(and in the engine tier) they fail instead. Shown by running them with that capability dropped
from the bounding set (capsh), as such a runner has it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.cluster.host_sandbox import REQUIRE_ENV, SKIP_PREFIX, required
from tools.paths import ROOT

TARGET = "tests/cluster/test_scripts_on_host.py"


def without_sys_admin(extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    if os.geteuid() != 0 or shutil.which("capsh") is None:
        why = f"{SKIP_PREFIX} dropping CAP_SYS_ADMIN needs root and capsh (apt-get install libcap2-bin)"
        if required():
            pytest.fail(f"{REQUIRE_ENV}=1: {why}", pytrace=False)
        pytest.skip(why)
    env = {k: v for k, v in os.environ.items() if k not in (REQUIRE_ENV, "K3SP_ENGINE")}
    env.update(extra_env)
    command = f"exec {sys.executable} -m pytest -p no:cacheprovider {TARGET}"
    return subprocess.run(["capsh", "--drop=cap_sys_admin", "--", "-c", command], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_they_skip_by_name_without_the_capability():
    done = without_sys_admin({})
    assert done.returncode == 0, done.stdout + done.stderr
    tests = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", TARGET], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout
    names = [line.strip() for line in tests.splitlines() if "::" in line]
    assert names
    assert f"privileged tests skipped: {len(names)} — this runner refuses a private mount namespace" in done.stdout
    for name in names:
        assert f"  skipped (privileged): {name}" in done.stdout
    assert "CAP_SYS_ADMIN" in done.stdout


def test_they_fail_where_privileges_are_required():
    done = without_sys_admin({REQUIRE_ENV: "1"})
    assert done.returncode == 1
    assert f"{REQUIRE_ENV}=1 (or the engine tier): {SKIP_PREFIX}" in done.stdout
