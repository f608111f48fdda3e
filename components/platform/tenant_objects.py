"""All Kubernetes objects of one tenant, from its validated config (pure)."""

from __future__ import annotations

from components.config import Tenant
from components.platform import rbac, sample_app, specs


def quota_hard(tenant: Tenant) -> dict[str, str]:
    q = tenant.quota
    return {
        "requests.cpu": q.requests_cpu, "requests.memory": q.requests_memory,
        "limits.cpu": q.limits_cpu, "limits.memory": q.limits_memory,
        "pods": str(q.pods), "persistentvolumeclaims": str(q.persistent_volume_claims),
        "requests.storage": q.requests_storage,
    }


def tenant_objects(tenant: Tenant, *, psa_version: str, traefik_namespace: str) -> dict[str, dict]:
    """role -> object, for the namespace-scoped basics every tenant gets (no certificates)."""
    ns = tenant.name
    objects = {
        "namespace": specs.namespace(ns, psa_version=psa_version, hosts=tenant.hosts),
        "quota": specs.resource_quota(ns, quota_hard(tenant)),
        "limits": specs.limit_range(ns, tenant.limits),
        "appops": rbac.appops_role_binding(ns, tenant.appops_group),
    }
    for policy in specs.network_policies(ns, app_ports=tenant.app_ports,
                                         traefik_namespace=traefik_namespace, egress=tenant.egress):
        objects[f"netpol-{policy['metadata']['name']}"] = policy
    if tenant.sample_app:
        app = tenant.sample_app
        objects["app-deployment"] = sample_app.deployment(ns, image=app.image, port=app.port, replicas=app.replicas)
        objects["app-service"] = sample_app.service(ns, port=app.port)
    return objects
