"""Pure text rendering for the OpenVPN server: the tls-crypt static key and the client
`.ovpn` profiles handed to admins (exported by the Router as a secret).

Creates nothing; no I/O. The key material comes in as arguments (from pulumi-tls and
pulumi-random at deploy time, from fixtures in tests).
"""

from __future__ import annotations

import textwrap

from components.grammar import Grammar

from .payloads import VPN_CIPHERS, VPN_DIGEST

_HEX_RE = Grammar(r"[0-9a-f]{512}")
# One argument of a profile directive: OpenVPN splits lines on whitespace and reads `#`/`;`
# as comments and quotes/backslashes specially, so a value with any of them (or a line
# break, which starts a new directive) could add directives of its own.
_DIRECTIVE_ARG_RE = Grammar(r"[A-Za-z0-9._:@=+/-]{1,253}")


def directive_arg(value: object, field: str) -> str:
    """`value` as one safe argument of a profile directive; refuses anything else."""
    text = str(value)
    if not _DIRECTIVE_ARG_RE.match(text):
        raise ValueError(f"{field} {text!r} cannot be written into an OpenVPN profile — use a "
                         "hostname, an address or a name without spaces, quotes or line breaks")
    return text


def render_static_key(hex_bytes: str) -> str:
    """OpenVPN "Static key V1" text from 256 random bytes given as 512 lowercase hex chars
    (the format `openvpn --genkey` writes: 16 lines of 32 hex digits)."""
    value = hex_bytes.strip().lower()
    if not _HEX_RE.match(value):
        raise ValueError("tls key must be 256 bytes as 512 hex characters — generate it with RandomBytes(length=256)")
    lines = textwrap.wrap(value, 32)
    return (
        "#\n# 2048 bit OpenVPN static key\n#\n-----BEGIN OpenVPN Static key V1-----\n"
        + "\n".join(lines)
        + "\n-----END OpenVPN Static key V1-----\n"
    )


def render_client_config(
    *,
    endpoint: str,
    port: int,
    protocol: str,
    server_cn: str,
    ca_pem: str,
    cert_pem: str,
    key_pem: str,
    tls_key: str,
) -> str:
    """A self-contained client profile: certificate auth, tls-crypt, only the ciphers the
    server offers, and the server certificate pinned by CN and `remote-cert-tls server`."""
    if protocol not in ("udp", "tcp"):
        raise ValueError(f"protocol {protocol!r} — use 'udp' or 'tcp'")
    proto = "udp4" if protocol == "udp" else "tcp4-client"
    blocks = [
        "client",
        "dev tun",
        f"proto {proto}",
        f"remote {directive_arg(endpoint, 'endpoint')} {int(port)}",
        "resolv-retry infinite",
        "nobind",
        "persist-key",
        "persist-tun",
        "remote-cert-tls server",
        f"verify-x509-name {directive_arg(server_cn, 'server_cn')} name",
        f"data-ciphers {':'.join(VPN_CIPHERS)}",
        f"auth {VPN_DIGEST}",
        "verb 3",
        f"<ca>\n{ca_pem.strip()}\n</ca>",
        f"<cert>\n{cert_pem.strip()}\n</cert>",
        f"<key>\n{key_pem.strip()}\n</key>",
        f"<tls-crypt>\n{tls_key.strip()}\n</tls-crypt>",
    ]
    return "\n".join(blocks) + "\n"
