"""The router alone under the real engine, against the fake pfSense API on 127.0.0.1 (HTTPS,
the lab PKI's CA given as `router.caBundle`): the stack's own config with `router.apiUrl` moved to
the fake, and a program that builds only the Router component."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import yaml

from components.config import read_stack_config
from components.network import Router
from tools.lab.certs import make_pki
from tools.paths import ROOT


def router_program() -> None:
    config, secrets = read_stack_config()
    router = Router("k3s-router", config.router, config.router_inventory, secrets.pfsense_api_key)
    pulumi.export("objects", sorted(router.objects))


def self_signed(d: Path) -> tuple[str, str]:
    """A serving certificate for 127.0.0.1 and its key, from the lab's throwaway PKI
    (tools/lab/certs.py); its CA is what the stack trusts as `router.caBundle`."""
    pki = make_pki(d / "pki", "10.43.0.0/16")
    return str(pki.serving_cert), str(pki.serving_key)


def ca_of(cert: str) -> str:
    return (Path(cert).parent / "ca.crt").read_text()


def stack_file(stack: str, dest: Path, api_url: str, ca_pem: str, edit=None) -> Path:
    """Pulumi.<stack>.yaml with the router moved to the fake; `edit(config)` changes more."""
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    router: dict[str, Any] = doc["config"]["k3s-platform:router"]
    router["apiUrl"] = api_url
    router["caBundle"] = ca_pem
    router["retries"] = 1
    if edit is not None:
        edit(doc["config"])
    dest.write_text(yaml.safe_dump(doc, sort_keys=False))
    return dest
