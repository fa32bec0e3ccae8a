"""Who a request acts as: a user, through which kind of credential, with which scopes."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import User

ALL_SCOPES = ("workflows:read", "workflows:write", "executions:run", "nodes:write", "admin")
# What each scope lets a credential do (the OAuth consent page and the OpenAPI show these).
SCOPE_DESCRIPTIONS = {
    "workflows:read": "See your workflows, their versions, executions and logs",
    "workflows:write": "Create, change and delete your workflows",
    "executions:run": "Run, stop and retry your workflows",
    "nodes:write": "Register custom node types, including Python code",
    "admin": "Administer this Axon server with your admin rights",
}


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    via: str  # "jwt", "api_key", "oauth" or "jupyter"
    scopes: frozenset[str] | None = None  # None: the user's full rights
    token_jti: str | None = None
    token_exp: int | None = None
    token_family: str | None = None
    credential_id: str | None = None

    @property
    def user_id(self) -> str:
        return self.user.id

    def has_scope(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes or "admin" in self.scopes
