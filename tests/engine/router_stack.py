"""The router alone under the real engine, against the fake pfSense API on 127.0.0.1 (HTTPS,
its own CA given as `router.caBundle`): the stack's own config with `router.apiUrl` moved to
the fake, and a program that builds only the Router component."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pulumi
import yaml

from components.config import read_stack_config
from components.network import Router
from tools.engine import inline


def router_program() -> None:
    config, secrets = read_stack_config()
    router = Router("k3s-router", config.router, config.router_inventory, secrets.pfsense_api_key)
    pulumi.export("objects", sorted(router.objects))


def self_signed(d: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 (openssl; the venv has no `cryptography`)."""
    cert, key = d / "router.crt", d / "router.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", "/CN=fake-pfsense", "-addext",
                    "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return str(cert), str(key)


def stack_file(stack: str, dest: Path, api_url: str, ca_pem: str, edit=None) -> Path:
    """Pulumi.<stack>.yaml with the router moved to the fake; `edit(config)` changes more."""
    doc = yaml.safe_load((inline.REPO / f"Pulumi.{stack}.yaml").read_text())
    router: dict[str, Any] = doc["config"]["k3s-platform:router"]
    router["apiUrl"] = api_url
    router["caBundle"] = ca_pem
    router["retries"] = 1
    if edit is not None:
        edit(doc["config"])
    dest.write_text(yaml.safe_dump(doc, sort_keys=False))
    return dest
