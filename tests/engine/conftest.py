"""The engine tier: the real Pulumi CLI and provider plugins (tools/engine/). These tests never
skip: a missing part fails with the command that provides it."""

from __future__ import annotations

import shutil

import pytest

from tools.engine import inline
from tools.paths import ROOT

from .ssh_hosts import lan_for, missing


@pytest.fixture(scope="session")
def engine_bins():
    try:
        bins = inline.bin_dir()
        inline.cli_dir(bins)
        inline.pulumi_home(bins)
    except inline.EngineUnavailable as err:
        pytest.fail(f"{err}", pytrace=False)
    return bins


@pytest.fixture
def work(tmp_path_factory, request):
    """A work directory per test; kept under engine-out/tests/<test> for the artifacts."""
    path = ROOT / "engine-out" / "tests" / request.node.name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def assert_no_errors(run: inline.Run) -> None:
    assert run.error is None, "\n".join(run.output[-60:])
    assert not run.diagnostics("error"), run.diagnostics("error")


@pytest.fixture
def lan(tmp_path):
    """dev's LAN with sshd hosts in network namespaces (tests/engine/ssh_hosts.py)."""
    why = missing()
    if why:
        pytest.fail(why, pytrace=False)
    network = lan_for("192.168.20.0/24", "192.168.20.1", tmp_path / "lan")
    yield network
    network.close()
