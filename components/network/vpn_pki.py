"""The OpenVPN server's PKI, made with pulumi-tls and pulumi-random (no component of its own).

`vpn_pki(name, vpn, opts)` creates, with the given options (the Router passes `parent=` itself,
so these keep the names and parents they always had):
- `<name>-vpn-ca-key` and `<name>-vpn-ca`: an ECDSA P-256 CA valid 10 years;
- `<name>-vpn-server-{key,csr,cert}`: the server certificate (CN `VPN_SERVER_CERT_DESCR`);
- `<name>-vpn-client-<n>-{key,csr,cert}`: one client certificate per admin in `vpn.clients`;
- `<name>-vpn-tls-key`: 256 random bytes for tls-crypt.
Certificates are valid `vpn.cert_validity_days` (default 825).

The CA's private key never leaves the program's state: the router gets only certificates and
the server's and clients' own keys.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components import names
from components.config.router import VpnSettings
from components.pki import CaPair, SignedPair, self_signed_ca, signed_cert

from .openvpn import render_static_key
from .payloads import TAG, VPN_SERVER_CERT_DESCR

CA_VALIDITY_HOURS = 10 * 365 * 24
SERVER_CN = VPN_SERVER_CERT_DESCR
SERVER_USES = ["digital_signature", "key_encipherment", "server_auth"]
CLIENT_USES = ["digital_signature", "client_auth"]
TLS_KEY_BYTES = 256


@dataclass(frozen=True)
class VpnPki:
    ca: CaPair
    server: SignedPair
    clients: dict[str, SignedPair]  # admin name -> certificate, in `vpn.clients` order
    tls_key: pulumi.Output[str]  # secret: the tls-crypt static key file text


def vpn_pki(name: str, vpn: VpnSettings, opts: pulumi.ResourceOptions | None = None) -> VpnPki:
    """CA, server and client certificates and the tls-crypt key for `vpn` (see module docstring)."""
    hours = vpn.cert_validity_days * 24
    ca = self_signed_ca(
        names.child(name, "vpn-ca-key"),
        names.child(name, "vpn-ca"),
        common_name=f"{TAG} VPN CA",
        organization=TAG,
        validity_hours=CA_VALIDITY_HOURS,
        opts=opts,
    )
    server = signed_cert(
        names.child(name, "vpn-server"), ca, common_name=SERVER_CN, organization=TAG, validity_hours=hours,
        uses=SERVER_USES, opts=opts,
    )
    clients = {
        client: signed_cert(
            names.child(name, names.vpn_client(client)), ca, common_name=client, organization=TAG, validity_hours=hours,
            uses=CLIENT_USES, opts=opts,
        )
        for client in vpn.clients
    }
    tls_bytes = random.RandomBytes(names.child(name, "vpn-tls-key"), length=TLS_KEY_BYTES, opts=opts)
    tls_key: pulumi.Output[str] = pulumi.Output.secret(tls_bytes.hex.apply(render_static_key))
    return VpnPki(ca=ca, server=server, clients=clients, tls_key=tls_key)
