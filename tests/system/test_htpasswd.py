"""Deterministic bcrypt htpasswd lines for the Traefik dashboard."""

from __future__ import annotations

import base64

import bcrypt
import pytest

from components.system.htpasswd import (
    HtpasswdError,
    derived_salt,
    htpasswd_line,
)

KEY = bytes(range(32))  # stands in for the stack's secret RandomBytes
OTHER_KEY = bytes(range(1, 33))


def test_same_input_gives_the_same_line_and_bcrypt_verifies_it():
    first = htpasswd_line("admin", "s3cret-Pass", salt_key=KEY)
    assert first == htpasswd_line("admin", "s3cret-Pass", salt_key=KEY)
    user, hashed = first.split(":", 1)
    assert user == "admin" and hashed.startswith("$2b$10$")
    assert bcrypt.checkpw(b"s3cret-Pass", hashed.encode())
    assert not bcrypt.checkpw(b"s3cret-pass", hashed.encode())


def test_plaintext_never_appears_in_the_line():
    assert "s3cret-Pass" not in htpasswd_line("admin", "s3cret-Pass", salt_key=KEY)


@pytest.mark.parametrize("user, password, key", [
    ("operator", "s3cret-Pass", KEY),                                   # another user
    ("admin", "s3cret-Pass2", KEY),                                     # another password
    ("admin", "s3cret-Pass", OTHER_KEY),                               # another stack
])
def test_salt_changes_with_user_password_and_key(user, password, key):
    base = derived_salt("admin", "s3cret-Pass", salt_key=KEY)
    assert derived_salt(user, password, salt_key=key) != base


def test_salt_is_a_canonical_bcrypt_salt():
    salt = derived_salt("admin", "x", salt_key=KEY, cost=12)
    assert salt.startswith(b"$2b$12$") and len(salt) == 29
    # bcrypt accepts it and round-trips it as the hash prefix.
    assert bcrypt.hashpw(b"x", salt).startswith(salt)


@pytest.mark.parametrize("user, password, field", [
    ("admin", "", "password"),
    ("admin", "x" * 73, "password"),
    ("admin", "a\nb", "password"),
])
def test_bad_input_names_the_field(user, password, field):
    with pytest.raises(HtpasswdError) as err:
        htpasswd_line(user, password, salt_key=KEY)
    assert str(err.value).startswith(f"{field}:")


# The user is validated config (ingress.dashboardUser); only the secret password is checked here.
@pytest.mark.parametrize("user, password, key", [("admin", "", "dashboardPassword"), ("admin", "a\nb", "dashboardPassword")])
def test_dashboard_users_reports_the_config_key(user, password, key):
    import pulumi

    from components.system.traefik import dashboard_users

    with pytest.raises(pulumi.RunError) as err:
        dashboard_users(user, password, salt_key_b64=base64.b64encode(KEY).decode())
    assert str(err.value).startswith(f"{key}:")


def test_salt_is_no_oracle_without_the_secret_key():
    # With a public key (the project/stack name, as before) a guess could be checked
    # against the salt by one HMAC; the key must be secret random bytes of real length.
    import base64
    import hashlib
    import hmac
    line = htpasswd_line("admin", "s3cret-Pass", salt_key=KEY)
    salt = line.split("$")[3][:22]
    for public in (b"k3s-platform/prod/traefik-dashboard", b"prod", b""):
        guess = hmac.new(public, b"admin\0s3cret-Pass", hashlib.sha256).digest()
        assert base64.b64encode(guess[:16])[:22].decode() != salt
    for weak in (b"", b"short", "not-bytes"):
        with pytest.raises(HtpasswdError, match="salt_key"):
            htpasswd_line("admin", "s3cret-Pass", salt_key=weak)
