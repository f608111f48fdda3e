"""Assembles the k3s-platform CrossGuard policy pack and serves it to the Pulumi engine.

Run by the CLI (`pulumi preview --policy-pack policies`) or by tools/imitations/policy_runner.py;
constructing PolicyPack starts the analyzer gRPC server and blocks.
Every policy defaults to mandatory; stacks relax them with --policy-pack-config
(see policies/config/ and README.md).
"""

from guardrails import ALL_POLICIES, PACK_NAME
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=ALL_POLICIES,
    description="k3s-platform guardrails: Pod Security restricted, quotas, resources, images, "
                "network isolation and RBAC.",
)
