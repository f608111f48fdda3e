"""The cluster's CAs and what is signed with them (no component of its own: K3sCluster passes
`parent=` itself, so the names below are its children's).

`certificateAuthorities: program` — `program_cas(name, opts)` creates, protected (replacing
a CA is a rotation, never a side effect):
- `<name>-<ca>-key` and `<name>-<ca>` for each of k3s's CAs (`render.CLUSTER_CAS`: server,
  client, request-header, etcd peer, etcd server), ECDSA P-256, valid 10 years like k3s's own;
- `<name>-service-account-key`: the key service-account tokens are signed with.
The K3sCluster puts them on every server before k3s first starts (`render.place_cas_script`).

`certificateAuthorities: adopt` — `adopted_cas(name, connection, opts)` creates
`<name>-cas-read`, which reads the first server's server CA certificate and client CA once
(create only: never read again) and keeps them, secret, in state.

Either way the result is a `ClusterAccess`: what a kubeconfig holds (API URL, server CA) and
the client CA that signs the program's and the people's certificates, all known at preview
once the CAs exist — no read of `k3s.yaml` on the deploy path.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_tls as tls
from pulumi_command import remote

from components import names
from components.cluster import render
from components.pki import CaPair, CaPems, ca_pems, self_signed_ca, signed_cert

CA_VALIDITY_HOURS = 10 * 365 * 24
CA_ORGANIZATION = "k3s-platform"
CLIENT_USES = ["digital_signature", "client_auth"]
# The program's own client certificate (cluster-admin through system:masters: it installs the
# CRDs and RBAC everything else depends on); renewed by the `up` that runs within 30 days of
# its expiry.
PROGRAM_GROUP = "system:masters"
PROGRAM_VALIDITY_HOURS = 365 * 24
PROGRAM_RENEWAL_HOURS = 30 * 24


@dataclass(frozen=True)
class ClusterAccess:
    """How to reach the cluster and vouch for a user: enough to write any kubeconfig."""

    cluster_name: str
    api_url: str
    server_ca_pem: pulumi.Input[str]
    client_ca: CaPems

    def kubeconfig(self, cert_pem: pulumi.Input[str], key_pem: pulumi.Input[str], user: str,
                   namespace: str | None = None) -> pulumi.Output[str]:
        """A kubeconfig for `user` (secret: it carries the client key)."""
        text = pulumi.Output.all(self.server_ca_pem, cert_pem, key_pem).apply(
            lambda pems: render.kubeconfig_yaml(self.cluster_name, self.api_url, pems[0], pems[1], pems[2],
                                                user=user, namespace=namespace))
        return pulumi.Output.secret(text)


@dataclass(frozen=True)
class ProgramCas:
    cas: dict[str, CaPair]  # by `render.CLUSTER_CAS` name
    service_account_key: tls.PrivateKey

    def bundle(self) -> pulumi.Output[str]:
        """Every file k3s reads from its TLS directory, as one secret text for stdin."""
        parts: list[pulumi.Output[str]] = []
        files: list[str] = []
        for ca_name, path in render.CLUSTER_CAS:
            pair = self.cas[ca_name]
            parts += [pair.cert.cert_pem, pair.key.private_key_pem]
            files += [f"{path}.crt", f"{path}.key"]
        parts.append(self.service_account_key.private_key_pem)
        files.append(render.SERVICE_ACCOUNT_KEY)
        return pulumi.Output.secret(pulumi.Output.all(*parts).apply(
            lambda pems: render.ca_bundle(dict(zip(files, pems, strict=True)))))


def program_cas(name: str, opts: pulumi.ResourceOptions) -> ProgramCas:
    protected = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=True))
    cas = {
        ca_name: self_signed_ca(
            names.child(name, ca_name, "key"), names.child(name, ca_name), common_name=f"k3s-{ca_name}",
            organization=CA_ORGANIZATION, validity_hours=CA_VALIDITY_HOURS, opts=protected)
        for ca_name, _ in render.CLUSTER_CAS
    }
    # RSA, as k3s generates it: every Kubernetes release verifies RS256 service-account tokens.
    sa_key = tls.PrivateKey(names.child(name, "service-account-key"), algorithm="RSA", rsa_bits=2048, opts=protected)
    return ProgramCas(cas=cas, service_account_key=sa_key)


def program_access(name: str, api_url: str, cas: ProgramCas) -> ClusterAccess:
    return ClusterAccess(cluster_name=name, api_url=api_url,
                         server_ca_pem=cas.cas["server-ca"].cert.cert_pem,
                         client_ca=ca_pems(cas.cas["client-ca"]))


def adopted_access(name: str, api_url: str, connection: remote.ConnectionArgs,
                   opts: pulumi.ResourceOptions) -> ClusterAccess:
    """Read the first server's CAs once (create only: an update never re-reads them)."""
    read = remote.Command(
        names.cluster_resource(name, names.CAS_READ),
        connection=connection,
        create=render.read_cas_script(),
        add_previous_output_in_env=False,
        logging=remote.Logging.NONE,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            additional_secret_outputs=["stdout"], ignore_changes=["connection"])))
    files = read.stdout.apply(lambda text: render.parse_ca_bundle(text, render.ADOPTED_FILES))
    return ClusterAccess(
        cluster_name=name, api_url=api_url,
        server_ca_pem=pulumi.Output.secret(files.apply(lambda f: f["server-ca.crt"])),
        client_ca=CaPems(key_pem=pulumi.Output.secret(files.apply(lambda f: f["client-ca.key"])),
                         cert_pem=files.apply(lambda f: f["client-ca.crt"])))


def client_certificate(prefix: str, access: ClusterAccess, user: str, group: str | None,
                       validity_hours: int, renewal_hours: int,
                       opts: pulumi.ResourceOptions) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """`<prefix>-key/-csr/-cert`: a client certificate for `user` (CN; `group`: O), signed by
    the cluster's client CA, replaced by the `up` that runs within `renewal_hours` of expiry.
    Returns (certificate PEM, key PEM)."""
    pair = signed_cert(prefix, access.client_ca, common_name=user, organization=group,
                       validity_hours=validity_hours, uses=CLIENT_USES,
                       early_renewal_hours=renewal_hours, opts=opts)
    return pair.cert.cert_pem, pair.key.private_key_pem


def program_kubeconfig(name: str, access: ClusterAccess, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """`<name>-program-{key,csr,cert}` and the program's own kubeconfig."""
    from components.config import PROGRAM_USER

    cert, key = client_certificate(names.child(name, "program"), access, PROGRAM_USER, PROGRAM_GROUP,
                                   PROGRAM_VALIDITY_HOURS, PROGRAM_RENEWAL_HOURS, opts)
    return access.kubeconfig(cert, key, user=PROGRAM_USER)
