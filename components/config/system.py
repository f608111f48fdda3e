"""`ingress`, `certificates`, `charts`: what the system layer (Traefik, cert-manager) needs."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, HttpUrl, field_validator, model_validator

from components.config.types import DnsLabel, Email, Hostname, Int, Model, WebUser


class Ingress(Model):
    """Traefik. The dashboard user's password is the secret `dashboardPassword`. `nodes`: the
    nodes Traefik runs on, one replica each, and the only ones HAProxy sends 80/443 to
    (default: the first `replicas` agents, then servers)."""

    dashboard_host: Hostname
    replicas: Int = Field(default=1, ge=1, le=10)
    dashboard_user: WebUser = "admin"
    nodes: tuple[DnsLabel, ...] = ()


class Certificates(Model):
    """`ca`: a private CA made by the program (dev). `acme`: Let's Encrypt HTTP-01."""

    issuer: Literal["ca", "acme"]
    acme_server: Literal["staging", "production"] = "staging"
    email: Email | None = None

    @model_validator(mode="after")
    def _acme_needs_email(self) -> Certificates:
        if self.issuer == "acme" and not self.email:
            raise ValueError("issuer acme needs an account e-mail — set certificates.email")
        return self



class Charts(Model):
    """Where the Helm charts come from. `repository`: one chart repository that serves both
    pinned charts (an air-gapped mirror, e.g. `http://charts.lan:8879`); default: each chart's
    official repository."""

    repository: HttpUrl | None = None

    @field_validator("repository", mode="before")
    @classmethod
    def _no_credentials_in_text(cls, v: object) -> object:
        # Checked on the raw text first, and never echoed: a URL reaches the plan, the state
        # and the engine's logs in clear, so a password or token in it would be published there.
        if isinstance(v, str):
            parts = urlsplit(v.strip())
            if "@" in parts.netloc or parts.username is not None or parts.password is not None:
                raise ValueError(_CREDENTIALS)
            if parts.query or parts.fragment or "?" in v or "#" in v:
                raise ValueError(_QUERY)
        return v

    @field_validator("repository")
    @classmethod
    def _no_credentials_as_parsed(cls, v: HttpUrl | None) -> HttpUrl | None:
        # Then on the URL as it will be used: the URL parser reads `https:u:p@host`,
        # `https:\\u:p@host` or a tab inside the host part as user and password, where
        # urlsplit saw none.
        if v is None:
            return v
        if v.username or v.password:
            raise ValueError(_CREDENTIALS)
        if v.query is not None or v.fragment is not None:
            raise ValueError(_QUERY)
        path = (v.path or "").lower()
        # `;parameters`, and a query, fragment or userinfo hidden by percent-encoding its mark.
        if ";" in path or any(mark in path for mark in ("%3f", "%23", "%3b", "%40")):
            raise ValueError(_QUERY)
        return v


# What the program supports for chart repositories: none that needs credentials.
_NO_CREDENTIALS = ("the program takes no credentials for the chart repository (not in the URL, not as a secret): "
                   "use a repository that needs none, e.g. a local mirror of both charts reachable from this "
                   "machine without a login (http://charts.lan:8879)")
_CREDENTIALS = ("holds credentials (user or password before @) — remove them: the URL is written in clear to "
                f"the plan and the state; {_NO_CREDENTIALS}")
_QUERY = ("has a query, fragment or ;parameters (?, #, ;, also percent-encoded, or an encoded @), where tokens "
          "are passed — remove them: the URL is "
          f"written in clear to the plan and the state; give the bare repository URL — {_NO_CREDENTIALS}")
