"""Logins, token rotation, API keys and turning a credential into a `Principal`.

Failure answers are deliberately uniform: a wrong password and an unknown email give
the same 401 after the same amount of work; a revoked, expired or forged token all say
"invalid token" with a machine-readable reason only where it helps the client recover.
"""

from __future__ import annotations

import hmac
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from ..auth.apikeys import generate_key, hash_key
from ..auth.bruteforce import BruteForceGuard
from ..auth.identity import ALL_SCOPES, Principal
from ..auth.passwords import hash_password, verify_password
from ..auth.tokens import TokenSigner
from ..errors import Forbidden, Unauthorized, not_found
from ..models import PLANS, ApiKey, User, from_epoch, new_id, utcnow
from ..store.base import Store
from .inputs import get_int, get_str, invalid, reject_unknown, require_object

_BAD_LOGIN = "Invalid email or password"


def _valid_email(email: str) -> bool:
    local, _, domain = email.partition("@")
    return bool(local) and bool(domain) and " " not in email


class AuthService:
    def __init__(
        self,
        store: Store,
        signer: TokenSigner,
        *,
        bruteforce: BruteForceGuard | None = None,
        token_cache_seconds: float = 1.0,
    ):
        self.store = store
        self.signer = signer
        self.bruteforce = BruteForceGuard() if bruteforce is None else bruteforce
        # (sub, jti, fam) -> (user, read at, store write generation). A bearer token's
        # user and revocation state is read once per `token_cache_seconds`, not once per
        # request. Any write in this process (a logout, a revocation, a plan change)
        # invalidates it at once; a revocation made by another process on the same
        # database takes effect here within `token_cache_seconds`.
        self.token_cache_seconds = token_cache_seconds
        self._token_users: dict[tuple[str, str, str | None], tuple[User, float, int]] = {}

    # ------------------------------------------------------------ users
    async def create_user(
        self,
        email: str,
        password: str | None,
        *,
        name: str | None = None,
        role: str = "member",
        plan: str = "standard",
    ) -> User:
        if not _valid_email(email):
            raise invalid("email", "Invalid email format")
        if password is not None and len(password) < 8:
            raise invalid("password", "must be at least 8 characters")
        if plan not in PLANS:
            raise invalid("plan", f"must be one of {', '.join(PLANS)}")
        user = User(
            id=new_id("user"),
            email=email.strip(),
            name=name or email.split("@")[0],
            password_hash=await hash_password(password) if password is not None else None,
            role=role,
            plan=plan,
        )
        await self.store.create_user(user)
        return user

    async def ensure_user(self, email: str, password: str | None, **kwargs: Any) -> User:
        """Create the user unless one with that email exists (start-up bootstrap)."""
        existing = await self.store.get_user_by_email(email)
        return existing or await self.create_user(email, password, **kwargs)

    # ------------------------------------------------------------ tokens
    def _token_response(self, user: User, family: str) -> dict[str, Any]:
        access, _ = self.signer.issue_access(user.id, fam=family)
        refresh, claims = self.signer.issue_refresh(user.id, family)
        return {
            "token": access,
            "token_type": "Bearer",
            "expires_in": self.signer.access_ttl,
            "refresh_token": refresh,
            "refresh_expires_in": self.signer.refresh_ttl,
            "user": {"id": user.id, "email": user.email, "name": user.name},
        }, claims

    async def _issue(self, user: User, family: str) -> dict[str, Any]:
        body, refresh_claims = self._token_response(user, family)
        await self.store.add_refresh_token(
            refresh_claims.jti, family, user.id, from_epoch(refresh_claims.exp)
        )
        return body

    async def verify_credentials(self, email: str, password: str, address: str | None) -> User:
        """The user whose email and password these are, behind brute-force protection
        (per account and per client address: 429 with Retry-After while locked). Used by
        /auth/login and by the OAuth sign-in page alike."""
        keys = self.bruteforce.keys("login", email, address)
        self.bruteforce.begin(keys)
        user = await self.store.get_user_by_email(email)
        ok = await verify_password(user.password_hash if user else None, password)
        if not ok or user is None:
            raise Unauthorized(_BAD_LOGIN, {"reason": "invalid_credentials"})
        self.bruteforce.succeeded(keys)
        return user

    async def login(self, body: Any, *, address: str | None = None) -> dict[str, Any]:
        body = require_object(body)
        email = get_str(body, "email", required=True, max_len=320)
        password = get_str(body, "password", required=True, max_len=1024)
        user = await self.verify_credentials(email, password, address)
        return await self._issue(user, secrets.token_urlsafe(12))

    async def refresh(self, body: Any) -> dict[str, Any]:
        body = require_object(body)
        token = get_str(body, "refresh_token", required=True, max_len=4096)
        claims = self.signer.decode(token, "refresh")
        used = await self.store.use_refresh_token(claims.jti, utcnow())
        if used is None:
            raise Unauthorized("invalid token", {"reason": "invalid_token"})
        family, user_id, fresh = used
        if not fresh:
            # A rotated token came back: someone holds a copy. End the whole login.
            await self._revoke_family(family, claims.exp)
            raise Unauthorized("refresh token was already used", {"reason": "token_reused"})
        user = await self.store.get_user_for_token(user_id, "fam:" + family)
        if user is None:
            raise Unauthorized("invalid token", {"reason": "invalid_token"})
        return await self._issue(user, family)

    async def _revoke_family(self, family: str, until_epoch: int) -> None:
        now = utcnow()
        await self.store.revoke_family(family, now)
        until = max(from_epoch(until_epoch), now + timedelta(seconds=self.signer.refresh_ttl))
        await self.store.revoke_jti("fam:" + family, until)

    async def logout(self, principal: Principal) -> None:
        if principal.token_jti is None:
            return  # API keys and Jupyter sessions have nothing to end here
        await self.store.revoke_jti(principal.token_jti, from_epoch(principal.token_exp))
        if principal.token_family:
            await self._revoke_family(principal.token_family, principal.token_exp)

    # ------------------------------------------------------------ authentication
    async def authenticate_bearer(self, token: str) -> Principal:
        claims = self.signer.decode(token, "access")
        user = await self._token_user(claims.sub, claims.jti, claims.fam)
        if user is None:
            raise Unauthorized("invalid token", {"reason": "token_revoked"})
        scopes = frozenset(claims.scope.split()) if claims.scope else None
        return Principal(
            user=user,
            via="oauth" if claims.client_id else "jwt",
            scopes=scopes,
            token_jti=claims.jti,
            token_exp=claims.exp,
            token_family=claims.fam,
            credential_id=claims.client_id,
        )

    async def _token_user(self, sub: str, jti: str, fam: str | None) -> User | None:
        key = (sub, jti, fam)
        generation = getattr(self.store, "write_generation", None)
        now = time.monotonic()
        cached = self._token_users.get(key)
        if (
            cached is not None
            and generation is not None
            and cached[2] == generation
            and now - cached[1] < self.token_cache_seconds
        ):
            return cached[0]
        revoked_keys = (jti, "fam:" + fam) if fam else (jti, jti)
        user = await self.store.get_user_for_token(sub, *revoked_keys)
        if user is not None and generation is not None and self.token_cache_seconds > 0:
            if len(self._token_users) >= 10_000:  # bounded: idle entries go wholesale
                self._token_users.clear()
            self._token_users[key] = (user, now, generation)
        return user

    async def authenticate_api_key(self, key: str) -> Principal:
        digest = hash_key(key)
        found = await self.store.get_api_key_by_hash(digest)
        if found is None or not hmac.compare_digest(found[0].key_hash, digest):
            raise Unauthorized("invalid API key", {"reason": "invalid_api_key"})
        api_key, user = found
        if api_key.revoked_at is not None:
            raise Unauthorized("invalid API key", {"reason": "api_key_revoked"})
        if api_key.expires_at is not None and api_key.expires_at <= utcnow():
            raise Unauthorized("API key has expired", {"reason": "api_key_expired"})
        return Principal(
            user=user, via="api_key", scopes=frozenset(api_key.scopes), credential_id=api_key.id
        )

    # ------------------------------------------------------------ API keys
    async def create_api_key(
        self, user: User, body: Any, *, within: frozenset[str] | None = None
    ) -> tuple[ApiKey, str]:
        """`within`: the scopes of the credential asking (None: full rights). A key never
        gets more than the credential that created it, so a narrow key or OAuth token
        cannot mint a broader one."""
        body = require_object(body)
        reject_unknown(body, {"name", "scopes", "expires_in_days"})
        name = get_str(body, "name", default="api key", max_len=200, min_len=1)
        rights = ALL_SCOPES if user.is_admin else ALL_SCOPES[:-1]
        if within is not None and "admin" not in within:
            rights = tuple(s for s in rights if s in within)
        scopes = body.get("scopes", list(rights))
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise invalid("scopes", "must be a list of strings")
        for scope in scopes:
            if scope not in ALL_SCOPES:
                raise invalid("scopes", f"unknown scope {scope!r}", allowed=list(ALL_SCOPES))
        if "admin" in scopes and not user.is_admin:
            raise invalid("scopes", "only admins may hold the admin scope")
        if within is not None and "admin" not in within:
            beyond = sorted(set(scopes) - within)
            if beyond:
                raise Forbidden(f"missing scope {beyond[0]}", {"scope": beyond[0]})
        days = body.get("expires_in_days")
        expires: datetime | None = None
        if days is not None:
            expires = utcnow() + timedelta(
                days=get_int(days, "expires_in_days", default=0, minimum=1, maximum=3650)
            )
        key, prefix, digest = generate_key()
        record = ApiKey(
            id=new_id("key"),
            user_id=user.id,
            name=name,
            prefix=prefix,
            key_hash=digest,
            scopes=sorted(set(scopes)),
            created_at=utcnow(),
            expires_at=expires,
        )
        await self.store.create_api_key(record)
        return record, key

    async def list_api_keys(self, user: User) -> list[ApiKey]:
        return await self.store.list_api_keys(user.id)

    async def revoke_api_key(self, user: User, key_id: str) -> None:
        if not await self.store.revoke_api_key(user.id, key_id, utcnow()):
            raise not_found("API key", key_id)
