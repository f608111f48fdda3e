"""People: everyone in `people` gets a client certificate, a kubeconfig and bindings to their name.

Creates, per person `<p>`:
- `<name>-<p>-key`, `<name>-<p>-csr`, `<name>-<p>-cert`: a client certificate (CN `<p>`, no
  group: a group in the certificate would outlive the person's removal from the config),
  signed by the cluster's client CA, valid `CERT_VALIDITY_DAYS`, replaced by the first `up`
  within `CERT_RENEWAL_DAYS` of its expiry;
- platops: `<name>-<p>-platops` (ClusterRoleBinding `platops-<p>` to cluster-admin);
  appops: `<name>-<p>-<tenant>` for each of their tenants (RoleBinding `appops-<p>` to the
  AppOps role in that namespace).
`kubeconfigs[<p>]` is their kubeconfig (secret; the stack output `peopleKubeconfigs`).

A certificate cannot be revoked before it expires; removing a person from the config deletes
their bindings, which is what takes their access away at the next `up`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi

from components import kube, names
from components.cluster.cluster_cas import ClusterAccess, client_certificate
from components.config import Person
from components.platform import rbac

CERT_VALIDITY_DAYS = 30
CERT_RENEWAL_DAYS = 10


class People(pulumi.ComponentResource):
    kubeconfigs: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, people: Sequence[Person], access: ClusterAccess,
                 appops_role: pulumi.Resource, tenant_namespaces: Mapping[str, pulumi.Resource],
                 provider: pulumi.ProviderResource, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("k3s-platform:platform:People", name, None, opts)
        certs = pulumi.ResourceOptions(parent=self)
        self.kubeconfigs = {}
        for person in people:
            cert, key = client_certificate(names.child(name, person.name), access, person.name, None,
                                           CERT_VALIDITY_DAYS * 24, CERT_RENEWAL_DAYS * 24, certs)
            first_tenant = person.tenants[0] if person.tenants else None
            self.kubeconfigs[person.name] = access.kubeconfig(cert, key, user=person.name, namespace=first_tenant)
            if person.role == "platops":
                kube.apply(names.child(name, names.person_binding(person.name, 'platops')), rbac.person_platops_binding(person.name),
                           pulumi.ResourceOptions(parent=self, provider=provider))
            for tenant in person.tenants:
                kube.apply(names.child(name, names.person_binding(person.name, tenant)), rbac.person_appops_binding(tenant, person.name),
                           pulumi.ResourceOptions(parent=self, provider=provider,
                                                  depends_on=[tenant_namespaces[tenant], appops_role]))
        self.register_outputs({})
