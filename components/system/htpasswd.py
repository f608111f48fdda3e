"""Deterministic bcrypt `htpasswd` lines for Traefik's BasicAuth middleware.

`htpasswd_line(user, password, context=...)` returns `user:$2b$<cost>$<salt><hash>`, the
format Traefik reads from the `users` key of a BasicAuth secret. The same inputs always give
the same line, so an unchanged password never shows up as a diff in `pulumi preview`.

Why a derived salt is still safe here:
- bcrypt's salt exists so that one precomputed table cannot crack many hashes at once and so
  that two users with the same password get different hashes. A salt taken from
  HMAC-SHA256(key=context, msg=user, password) is unique per (context, user, password), so
  both properties hold: a guess must still be hashed with bcrypt's full cost for each user
  and each stack (the context names the stack), exactly as with a random salt.
- What a derived salt does reveal is that the *same* user kept the *same* password in the
  *same* context (the hash does not change) — which is precisely the "no diff" behaviour we
  want, and nothing an observer of the secret could not see from the unchanged value anyway.
- The password itself never leaves this function; callers keep the result in a secret
  Output so that even the hash stays out of plans and logs.

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
    """Invalid input; the message starts with the offending field."""


def derived_salt(user: str, password: str, *, context: str, cost: int = DEFAULT_COST) -> bytes:
    """A bcrypt salt string (`$2b$<cost>$` + 22 chars) derived from a keyed hash."""
    if not 4 <= cost <= 31:
        raise HtpasswdError(f"cost: {cost} is outside bcrypt's range 4-31")
    digest = hmac.new(context.encode(), user.encode() + b"\0" + password.encode(), hashlib.sha256).digest()
    # 16 bytes -> 24 base64 chars with "==" padding; the first 22 carry the 128 bits, and the
    # last of them has its low bits zero, which is the canonical bcrypt encoding.
    encoded = base64.b64encode(digest[:16])[:22].translate(_TO_BCRYPT)
    return b"$2b$%02d$" % cost + encoded


def htpasswd_line(user: str, password: str, *, context: str, cost: int = DEFAULT_COST) -> str:
    """`user:<bcrypt hash>` for Traefik BasicAuth; deterministic for the same inputs.

    `context` separates stacks and purposes (e.g. `k3s-platform/prod/traefik-dashboard`), so
    the same password in dev and prod gives unrelated hashes.
    """
    if not isinstance(user, str) or not user:
        raise HtpasswdError("user: must be a non-empty string")
    if ":" in user or any(c.isspace() for c in user):
        raise HtpasswdError(f"user: {user!r} may not contain ':' or whitespace (htpasswd format)")
    if not isinstance(password, str) or not password:
        raise HtpasswdError("password: must be a non-empty string — set the secret config value")
    if "\n" in password or "\r" in password:
        raise HtpasswdError("password: may not contain a line break")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise HtpasswdError(f"password: longer than {MAX_PASSWORD_BYTES} bytes, which bcrypt cannot hash — shorten it")
    if not context:
        raise HtpasswdError("context: must be a non-empty string (e.g. project/stack/purpose)")
    hashed = bcrypt.hashpw(password.encode(), derived_salt(user, password, context=context, cost=cost))
    return f"{user}:{hashed.decode()}"


def htpasswd_file(users: dict[str, str], *, context: str, cost: int = DEFAULT_COST) -> str:
    """Several users, one line each, sorted by user name so the text is stable."""
    if not users:
        raise HtpasswdError("users: at least one user is required")
    return "\n".join(htpasswd_line(u, users[u], context=context, cost=cost) for u in sorted(users)) + "\n"
