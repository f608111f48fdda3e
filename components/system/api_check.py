"""cert-manager's API check as plain objects (pure): ServiceAccount, Role, RoleBinding, Job.

The chart ships this check as a Helm post-install hook, and `helm.v4.Chart` leaves hooks out,
so the chart's own copy never runs (the chart's is disabled in its values). This Job runs the
same binary (`cert-manager-startupapicheck check api`): it succeeds only once the webhook
answers a dry-run Certificate create — CA bundle injected, serving certificate valid. The
Pulumi Kubernetes provider waits for a Job to complete, so every Issuer that depends on it is
created only after cert-manager can really admit it (closes the race noted in ADR 0003).
"""

from __future__ import annotations

from components.kube_specs import restricted_pod_security_context, restricted_security_context

NAME = "cert-manager-api-check"
# Ref: deploy/charts/cert-manager/templates/startupapicheck-job.yaml and -rbac.yaml (v1.21):
# args `check api --wait=<timeout>`, a Role allowing `create` on certificates.
IMAGE = "quay.io/jetstack/cert-manager-startupapicheck"
WAIT = "5m"
LABELS = {"app.kubernetes.io/name": "startupapicheck", "app.kubernetes.io/component": "startupapicheck",
          "app.kubernetes.io/managed-by": "pulumi"}


def _meta(namespace: str) -> dict:
    return {"name": NAME, "namespace": namespace, "labels": dict(LABELS)}


def api_check_objects(namespace: str, *, image_tag: str, resources: dict) -> dict[str, dict]:
    """role -> object: `account`, `role`, `binding`, `job` (the Job last; it needs the others)."""
    return {
        "account": {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(namespace)},
        "role": {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": _meta(namespace),
            "rules": [{"apiGroups": ["cert-manager.io"], "resources": ["certificates"], "verbs": ["create"]}],
        },
        "binding": {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": _meta(namespace),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}],
        },
        "job": {
            "apiVersion": "batch/v1", "kind": "Job", "metadata": _meta(namespace),
            "spec": {
                "backoffLimit": 4,
                "template": {
                    "metadata": {"labels": dict(LABELS)},
                    "spec": {
                        "restartPolicy": "OnFailure",
                        "serviceAccountName": NAME,
                        "enableServiceLinks": False,
                        "securityContext": restricted_pod_security_context(),
                        "containers": [{
                            "name": "api-check",
                            "image": f"{IMAGE}:{image_tag}",
                            "args": ["check", "api", f"--wait={WAIT}", "-v"],
                            "env": [{"name": "POD_NAMESPACE",
                                     "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
                            "securityContext": restricted_security_context(),
                            "resources": {k: dict(v) for k, v in resources.items()},
                        }],
                    },
                },
            },
        },
    }
