"""The dynamic providers' pickle is an API: Pulumi stores it in state and uses the stored
copy for `destroy`, `refresh` and deletes. dill pickles our provider classes *by reference*
(module path + class name), so moving or renaming `components.network.resources` or its
provider classes would break every existing stack's destroy/refresh. These tests pin that
path; a move needs a shim module left at the old path."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.network.resources import PfSenseApplyProvider, PfSenseObjectProvider
from tools.paths import ROOT

# The module path and class names stored in every existing stack's state.
STORED_MODULE = "components.network.resources"


@pytest.mark.parametrize("cls", [PfSenseObjectProvider, PfSenseApplyProvider])
def test_provider_pickles_by_reference_to_its_stable_path(cls):
    raw = base64.b64decode(serialize_provider(cls()))
    assert STORED_MODULE.encode() in raw and cls.__name__.encode() in raw
    assert cls.__module__ == STORED_MODULE, "moved? leave a re-export at the old path"
    # By reference, not by value: the class body (its methods' code) is not in the pickle,
    # so a fix to the provider reaches existing stacks.
    assert b"driver_from_props" not in raw


def test_a_stored_pickle_loads_in_a_fresh_interpreter():
    # What the engine's provider host does with the state's copy: a new process, the
    # project on sys.path, dill.loads.
    blob = serialize_provider(PfSenseObjectProvider())
    code = ("import base64, dill, sys; p = dill.loads(base64.b64decode(sys.argv[1])); "
            "print(type(p).__module__ + '.' + type(p).__name__)")
    out = subprocess.run([sys.executable, "-c", code, blob], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    assert out.stdout.strip() == f"{STORED_MODULE}.PfSenseObjectProvider"
