"""The platform's guardrail policies, one module per concern.

Importing this package only builds Policy objects; the pack itself (which serves
and blocks) is assembled in `policies/__main__.py`.
"""

from __future__ import annotations

from . import images, network, nonroot, quotas, rbac, resources, restricted, stack_inputs

ALL_POLICIES = [
    nonroot.POLICY,
    restricted.POLICY,
    resources.POLICY,
    images.POLICY,
    quotas.POLICY,
    network.POLICY,
    rbac.POLICY,
    stack_inputs.POLICY,
]

# Policies that serve others and stay on whatever `--only` selects.
SUPPORT_POLICIES = [stack_inputs.NAME]

POLICY_NAMES = [p.name for p in ALL_POLICIES]

# Names usable with `--only` besides single policy names.
POLICY_GROUPS: dict[str, list[str]] = {
    "pod-security": [nonroot.NAME, restricted.NAME],
}

PACK_NAME = "k3s-platform-guardrails"
