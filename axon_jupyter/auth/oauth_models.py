"""OAuth 2.0 records: clients, authorization codes, refresh tokens, access-token handles.

Plain dataclasses shared by the store and the authorization server. They also carry the
small predicates authlib asks of its models (`check_redirect_uri`, `check_client`, ...),
duck-typed so this module needs no authlib import: the store can load them without
pulling the protocol library in. Every secret comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..models import iso, utcnow

CLIENT_TYPES = ("confidential", "public")
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
# Public clients cannot keep a secret, so they can never act as themselves.
PUBLIC_GRANT_TYPES = ("authorization_code", "refresh_token")
SECRET_PREFIX = "axcs_"
REFRESH_PREFIX = "axrt_"


def digest(value: str) -> str:
    """SHA-256 hex of a high-entropy secret (client secret, code, refresh token)."""
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def scope_list(scope: str | None) -> list[str]:
    return [s for s in (scope or "").split() if s]


def scope_str(scopes: list[str] | tuple[str, ...] | set[str] | frozenset[str]) -> str:
    return " ".join(sorted(set(scopes)))


@dataclass(slots=True)
class OAuthClient:
    id: str
    name: str
    owner_id: str
    client_type: str
    redirect_uris: list[str]
    scopes: list[str]
    grant_types: list[str]
    secret_hash: str | None = None
    created_by: str | None = None
    created_at: datetime = field(default_factory=utcnow)

    @property
    def is_public(self) -> bool:
        return self.client_type == "public"

    def to_api(self) -> dict[str, Any]:
        return {
            "client_id": self.id,
            "name": self.name,
            "client_type": self.client_type,
            "owner_id": self.owner_id,
            "redirect_uris": list(self.redirect_uris),
            "scopes": list(self.scopes),
            "grant_types": list(self.grant_types),
            "token_endpoint_auth_method": self.auth_method,
            "created_at": iso(self.created_at),
        }

    @property
    def auth_method(self) -> str:
        return "none" if self.is_public else "client_secret_basic"

    # ---- what authlib asks of a client (ClientMixin) ----
    def get_client_id(self) -> str:
        return self.id

    def get_default_redirect_uri(self) -> str | None:
        # Only an unambiguous registration may omit redirect_uri in the request.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The scope to grant: everything the client may hold when none is asked for;
        None (invalid_scope) when the request asks for more than the client may hold."""
        if not scope:
            return scope_str(self.scopes)
        wanted = set(scope_list(scope))
        if not wanted <= set(self.scopes):
            return None
        return scope_str(wanted)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return any(hmac.compare_digest(redirect_uri, uri) for uri in self.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        if self.secret_hash is None:
            return False
        return hmac.compare_digest(digest(client_secret), self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.is_public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass(slots=True)
class AuthorizationCode:
    code_hash: str
    client_id: str
    user_id: str
    redirect_uri: str
    scope: str
    created_at: datetime
    expires_at: datetime
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    used_at: datetime | None = None
    family: str | None = None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def is_expired(self) -> bool:
        return self.expires_at <= utcnow()


@dataclass(slots=True)
class OAuthRefreshToken:
    token_hash: str
    family: str
    client_id: str
    user_id: str
    scope: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None

    # ---- what authlib asks of a token (TokenMixin) ----
    def check_client(self, client: OAuthClient) -> bool:
        return hmac.compare_digest(self.client_id, client.id)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int(self.expires_at.timestamp() - time.time()))

    def is_expired(self) -> bool:
        return self.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True, slots=True)
class AccessTokenRef:
    """An access token (a JWT) presented to the revocation endpoint."""

    jti: str
    exp: int
    client_id: str | None
    scope: str

    def check_client(self, client: OAuthClient) -> bool:
        return self.client_id is not None and hmac.compare_digest(self.client_id, client.id)

    def get_scope(self) -> str:
        return self.scope
