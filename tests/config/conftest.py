"""Fixtures of the config tests: `ca_certificate_pem`, a real self-signed CA certificate."""

from __future__ import annotations

import shutil
import subprocess

import pytest


@pytest.fixture(scope="session")
def ca_certificate_pem(tmp_path_factory) -> str:
    """A throwaway CA certificate made with the openssl CLI (the venv has no `cryptography`)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed (apt-get install openssl)")
    work = tmp_path_factory.mktemp("ca")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=k3s-platform test CA"],
                   cwd=work, check=True, capture_output=True)
    return (work / "ca.crt").read_text()
