"""Host ownership in the cluster (pure): a tenant may publish only its own hostnames.

AppOps of one tenant can write IngressRoutes and Certificates in their namespace. Without a
check in the cluster they could publish a route or get a certificate for another tenant's host
(or the dashboard's) and capture its traffic; the policy pack checks only what the program
deploys. So the API server checks every IngressRoute and Certificate written in a tenant
namespace with a ValidatingAdmissionPolicy (CEL, no webhook to run):

- the namespace carries its hosts in the annotation `k3s-platform/hosts` (comma-separated),
  set by the program from `tenants[].hosts`; AppOps cannot edit Namespaces (cluster-scoped);
- an IngressRoute's every route must name at least one `Host(...)`, every `Host(...)` one of
  those hosts, and no `HostRegexp` (a route without a host would match every hostname);
- a Certificate's `dnsNames` and `commonName` must be among those hosts.
The binding selects namespaces with the tenant label, so system namespaces are not affected.
Ref: https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/
"""

from __future__ import annotations

from collections.abc import Sequence

from components.platform.specs import TENANT_LABEL

HOSTS_ANNOTATION = "k3s-platform/hosts"
POLICY_NAME = "k3s-platform-tenant-hosts"

# CEL source. `findAll` is Kubernetes' regex library; `split` the CEL strings extension.
_HOST_CALL = r"'Host\\(`[^`]+`\\)'"
_ALLOWED = (f"has(namespaceObject.metadata.annotations) && '{HOSTS_ANNOTATION}' in "
            f"namespaceObject.metadata.annotations ? "
            f"namespaceObject.metadata.annotations['{HOSTS_ANNOTATION}'].split(',') : []")
_ROUTES_OWNED = (
    "object.kind != 'IngressRoute' || !has(object.spec.routes) || object.spec.routes.all(r, "
    f"!r.match.contains('HostRegexp') && r.match.findAll({_HOST_CALL}).size() > 0 && "
    f"r.match.findAll({_HOST_CALL}).all(h, h.substring(6, h.size() - 2) in variables.allowed))")
_CERTIFICATES_OWNED = (
    "object.kind != 'Certificate' || "
    "((!has(object.spec.dnsNames) || object.spec.dnsNames.all(n, n in variables.allowed)) && "
    "(!has(object.spec.commonName) || object.spec.commonName in variables.allowed))")


def hosts_annotation(hosts: Sequence[str]) -> dict[str, str]:
    return {HOSTS_ANNOTATION: ",".join(hosts)}


def admission_policy() -> dict:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": POLICY_NAME},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [
                {"apiGroups": ["traefik.io"], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
                 "resources": ["ingressroutes"]},
                {"apiGroups": ["cert-manager.io"], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
                 "resources": ["certificates"]},
            ]},
            "variables": [{"name": "allowed", "expression": _ALLOWED}],
            "validations": [
                {"expression": _ROUTES_OWNED,
                 "message": "every route must match Host(...) of this tenant's own hosts "
                            f"(annotation {HOSTS_ANNOTATION} of the namespace), and no HostRegexp"},
                {"expression": _CERTIFICATES_OWNED,
                 "message": f"dnsNames and commonName must be this tenant's own hosts ({HOSTS_ANNOTATION})"},
            ],
        },
    }


def admission_binding() -> dict:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": POLICY_NAME},
        "spec": {
            "policyName": POLICY_NAME,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchExpressions": [
                {"key": TENANT_LABEL, "operator": "Exists"}]}},
        },
    }
