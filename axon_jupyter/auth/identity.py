"""Who a request acts as: a user, through which kind of credential, with which scopes."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import User

ALL_SCOPES = ("workflows:read", "workflows:write", "executions:run", "nodes:write", "admin")


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
