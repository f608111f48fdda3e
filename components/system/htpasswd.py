"""Deterministic bcrypt `htpasswd` lines for Traefik's BasicAuth middleware.

`htpasswd_line(user, password, salt_key=...)` returns `user:$2b$<cost>$<salt><hash>`, the
format Traefik reads from the `users` key of a BasicAuth secret. The same inputs always give
the same line, so an unchanged password never shows up as a diff in `pulumi preview`.

The salt is HMAC-SHA256(salt_key, user, password), and `salt_key` is a *secret*: random
bytes the program generates once and keeps (secret) in state. It must be secret — a salt
derived with a public key would be an oracle: anyone holding the hash could test a guess
with one cheap HMAC against the salt, without paying bcrypt's cost. With a secret key the
salt is as opaque as a random one, unique per (key, user, password), and stable.

Pure: no pulumi import. Bad input raises `HtpasswdError` naming the field.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import bcrypt

# bcrypt's own base64 alphabet (not RFC 4648): "./A-Za-z0-9".
_BCRYPT_ALPHABET = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_STD_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_TO_BCRYPT = bytes.maketrans(_STD_ALPHABET, _BCRYPT_ALPHABET)

# Traefik checks the hash on every request the dashboard makes; cost 10 keeps that near
# 50-100 ms while staying at bcrypt's common default.
DEFAULT_COST = 10
# bcrypt only reads the first 72 bytes; bcrypt 5 refuses longer input rather than truncate.
MAX_PASSWORD_BYTES = 72


class HtpasswdError(ValueError):
    """Invalid input: `field` names the argument, `reason` says what is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


# A salt key shorter than this could be searched; RandomBytes(32) gives 32.
MIN_SALT_KEY_BYTES = 16


def derived_salt(user: str, password: str, *, salt_key: bytes, cost: int = DEFAULT_COST) -> bytes:
    """A bcrypt salt string (`$2b$<cost>$` + 22 chars) from a hash keyed by the secret salt key."""
    if not 4 <= cost <= 31:
        raise HtpasswdError("cost", f"{cost} is outside bcrypt's range 4-31")
    if not isinstance(salt_key, bytes) or len(salt_key) < MIN_SALT_KEY_BYTES:
        raise HtpasswdError("salt_key", f"must be at least {MIN_SALT_KEY_BYTES} secret random bytes")
    digest = hmac.new(salt_key, user.encode() + b"\0" + password.encode(), hashlib.sha256).digest()
    # 16 bytes -> 24 base64 chars with "==" padding; the first 22 carry the 128 bits, and the
    # last of them has its low bits zero, which is the canonical bcrypt encoding.
    encoded = base64.b64encode(digest[:16])[:22].translate(_TO_BCRYPT)
    return b"$2b$%02d$" % cost + encoded


def htpasswd_line(user: str, password: str, *, salt_key: bytes, cost: int = DEFAULT_COST) -> str:
    """`user:<bcrypt hash>` for Traefik BasicAuth; deterministic for the same inputs.

    `salt_key`: secret random bytes kept in the stack's state (each stack has its own, so the
    same password in dev and prod gives unrelated hashes). `user` is validated config
    (`ingress.dashboardUser`); the password is a secret, known only here, so it is checked here.
    """
    if not isinstance(password, str) or not password:
        raise HtpasswdError("password", "must be a non-empty string — set the secret config value")
    if "\n" in password or "\r" in password:
        raise HtpasswdError("password", "may not contain a line break")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise HtpasswdError("password", f"longer than {MAX_PASSWORD_BYTES} bytes, which bcrypt cannot hash — shorten it")
    hashed = bcrypt.hashpw(password.encode(), derived_salt(user, password, salt_key=salt_key, cost=cost))
    return f"{user}:{hashed.decode()}"
