"""Policy-pack settings that follow the stack config, so each fact has one source.

The pack cannot read the stack's config (the engine hands it resources, not config), and
`pulumi preview --policy-pack policies --policy-pack-config policies/config/<stack>.json`
reads only that JSON. So the stack config stays the source, and the plan refuses to go on
when the pack would see something else, naming the file and the exact entry to write:

- `rbac-least-privilege.platopsGroup` follows `platops.group` (renaming the PlatOps group in
  the stack config must reach the pack, or the PlatOps binding becomes a violation);
- `rbac-least-privilege.platopsUsers` follows the `platops` entries of `people` (in config
  order), so each PlatOps person's own cluster-admin binding is allowed and nobody else's;
- `pod-security-restricted.kubernetesVersion` follows the minor of `cluster.k3sVersion`.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tools.imitations.policy_runner import CONFIG_DIR, PACK_DIR, parse_pack_config
from tools.paths import ROOT


@dataclass(frozen=True)
class DerivedSetting:
    policy: str
    prop: str
    source_key: str           # dotted key in Pulumi.<stack>.yaml
    module: str               # guardrails module whose SETTINGS declare the policy's config
    value: Callable[[Any], Any]


DERIVED = (
    DerivedSetting("rbac-least-privilege", "platopsGroup", "platops.group", "rbac",
                   lambda cfg: cfg.platops.group),
    DerivedSetting("rbac-least-privilege", "platopsUsers", "people", "rbac",
                   lambda cfg: [p.name for p in cfg.people if p.role == "platops"]),
    DerivedSetting("pod-security-restricted", "kubernetesVersion", "cluster.k3sVersion", "restricted",
                   lambda cfg: cfg.cluster.kubernetes_minor.removeprefix("v")),
)


def pack_default(module: str, prop: str) -> Any:
    """The pack's own default for a property (what the CLI fills in when the JSON is silent)."""
    if str(PACK_DIR) not in sys.path:
        sys.path.insert(0, str(PACK_DIR))
    return importlib.import_module(f"guardrails.{module}").SETTINGS[prop].default


def disagreements(stack: str, cfg: Any, raw_pack_config: dict) -> list[str]:
    """One line per pack setting that would differ from what the stack config says."""
    path = (CONFIG_DIR / f"{stack}.json").relative_to(ROOT)
    given = parse_pack_config(raw_pack_config)
    problems = []
    for d in DERIVED:
        want = d.value(cfg)
        set_here = given.get(d.policy, (None, {}))[1].get(d.prop)
        have = set_here if set_here is not None else pack_default(d.module, d.prop)
        if have != want:
            origin = "sets" if set_here is not None else "leaves the pack default"
            problems.append(
                f"{path}: {origin} {d.policy}.{d.prop} = {json.dumps(have)}, but Pulumi.{stack}.yaml's "
                f"{d.source_key} makes it {json.dumps(want)} — write "
                f"\"{d.policy}\": {{\"{d.prop}\": {json.dumps(want)}}} in {path}"
            )
    return problems
