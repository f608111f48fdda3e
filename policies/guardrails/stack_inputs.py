"""Policy `stack-policy-inputs`: remembers each Kubernetes object's inputs for the stack policies.

Creates one ResourceValidationPolicy that never reports. Stack policies receive resources'
outputs; in the preview of a stack whose Kubernetes provider is not configured yet (the first
preview of a new stack: its kubeconfig is unknown) the engine gives every object of that
provider empty outputs. The engine calls `Analyze`, with the inputs, on every resource before
`AnalyzeStack`, in the same pack process, so what this policy saw stands in for the missing
outputs (`_k8s.SEEN_INPUTS`). Disabling it makes every stack policy report the objects it
then cannot see, rather than pass them.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ._k8s import SEEN_INPUTS

NAME = "stack-policy-inputs"


def _record(args: ResourceValidationArgs, _report: ReportViolation) -> None:
    SEEN_INPUTS.record(args.urn, args.resource_type, args.props)


POLICY = ResourceValidationPolicy(
    name=NAME,
    description="Keeps each Kubernetes object's inputs for the stack policies (reports nothing).",
    validate=_record,
    enforcement_level=EnforcementLevel.ADVISORY,
)
