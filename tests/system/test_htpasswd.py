"""Deterministic bcrypt htpasswd lines for the Traefik dashboard."""

from __future__ import annotations

import bcrypt
import pytest

from components.system.htpasswd import (
    HtpasswdError,
    derived_salt,
    htpasswd_file,
    htpasswd_line,
)

CTX = "k3s-platform/prod/traefik-dashboard"


def test_same_input_gives_the_same_line_and_bcrypt_verifies_it():
    first = htpasswd_line("admin", "s3cret-Pass", context=CTX)
    assert first == htpasswd_line("admin", "s3cret-Pass", context=CTX)
    user, hashed = first.split(":", 1)
    assert user == "admin" and hashed.startswith("$2b$10$")
    assert bcrypt.checkpw(b"s3cret-Pass", hashed.encode())
    assert not bcrypt.checkpw(b"s3cret-pass", hashed.encode())


def test_plaintext_never_appears_in_the_line():
    assert "s3cret-Pass" not in htpasswd_line("admin", "s3cret-Pass", context=CTX)


@pytest.mark.parametrize("user, password, context", [
    ("operator", "s3cret-Pass", CTX),                                   # another user
    ("admin", "s3cret-Pass2", CTX),                                     # another password
    ("admin", "s3cret-Pass", "k3s-platform/dev/traefik-dashboard"),     # another stack
])
def test_salt_changes_with_user_password_and_context(user, password, context):
    base = derived_salt("admin", "s3cret-Pass", context=CTX)
    assert derived_salt(user, password, context=context) != base


def test_salt_is_a_canonical_bcrypt_salt():
    salt = derived_salt("admin", "x", context=CTX, cost=12)
    assert salt.startswith(b"$2b$12$") and len(salt) == 29
    # bcrypt accepts it and round-trips it as the hash prefix.
    assert bcrypt.hashpw(b"x", salt).startswith(salt)


def test_file_is_sorted_one_line_per_user():
    text = htpasswd_file({"zoe": "a", "admin": "b"}, context=CTX, cost=4)
    assert [line.split(":")[0] for line in text.splitlines()] == ["admin", "zoe"]


@pytest.mark.parametrize("user, password, field", [
    ("", "x", "user"),
    ("ad:min", "x", "user"),
    ("admin", "", "password"),
    ("admin", "x" * 73, "password"),
    ("admin", "a\nb", "password"),
])
def test_bad_input_names_the_field(user, password, field):
    with pytest.raises(HtpasswdError) as err:
        htpasswd_line(user, password, context=CTX)
    assert str(err.value).startswith(f"{field}:")


@pytest.mark.parametrize("user, password, key", [("ad:min", "x", "ingress.dashboardUser"), ("admin", "", "dashboardPassword")])
def test_dashboard_users_reports_the_config_key(user, password, key):
    import pulumi

    from components.system.traefik import dashboard_users

    with pytest.raises(pulumi.RunError) as err:
        dashboard_users(user, password, context=CTX)
    assert str(err.value).startswith(f"{key}:")
