"""JWT access and refresh tokens: HS256 pinned, claims required, `typ` separated.

A refresh token never serves as an access token (and vice versa) because `typ` is
checked; `jti` makes every token revocable; `fam` ties refresh tokens of one login
together so that reuse of a rotated one can revoke the whole family.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt

from ..errors import Unauthorized

ALGORITHM = "HS256"
ISSUER = "axon"
MIN_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class TokenClaims:
    sub: str
    jti: str
    typ: str
    exp: int
    iat: int
    fam: str | None = None
    scope: str | None = None
    client_id: str | None = None


class TokenSigner:
    def __init__(
        self, secret: str | bytes, *, access_ttl: int = 3600, refresh_ttl: int = 30 * 86400
    ):
        key = secret.encode() if isinstance(secret, str) else secret
        if len(key) < MIN_SECRET_BYTES:
            raise ValueError("jwt_secret must be at least 256 bits (32 bytes)")
        self._key = key
        self._verified = lru_cache(maxsize=4096)(self._verify)
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl

    def _encode(self, sub: str, typ: str, ttl: int, **extra: Any) -> tuple[str, TokenClaims]:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": sub,
            "iat": now,
            "exp": now + ttl,
            "jti": secrets.token_urlsafe(16),
            "typ": typ,
            **{k: v for k, v in extra.items() if v is not None},
        }
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM)
        return token, TokenClaims(**{k: v for k, v in claims.items() if k != "iss"})

    def issue_access(
        self,
        user_id: str,
        *,
        scope: str | None = None,
        client_id: str | None = None,
        fam: str | None = None,
    ):
        return self._encode(
            user_id, "access", self.access_ttl, scope=scope, client_id=client_id, fam=fam
        )

    def issue_refresh(
        self, user_id: str, family: str, *, scope: str | None = None, client_id: str | None = None
    ):
        return self._encode(
            user_id, "refresh", self.refresh_ttl, fam=family, scope=scope, client_id=client_id
        )

    def decode(self, token: str, typ: str) -> TokenClaims:
        """Verify signature, algorithm, expiry and required claims; any failure is 401."""
        claims = self._verified(token)
        if claims.exp <= time.time():  # a cached verification must not outlive the token
            raise Unauthorized("token has expired", {"reason": "token_expired"})
        if claims.typ != typ:
            raise Unauthorized("invalid token", {"reason": "wrong_token_type"})
        return claims

    def _verify(self, token: str) -> TokenClaims:
        # Cached per signer (see __init__): a client sends the same token on every
        # request, and signature checking was a tenth of a request's CPU. Only
        # successful verifications are cached; revocation is checked by the caller.
        try:
            data = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "jti", "typ"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token has expired", {"reason": "token_expired"}) from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("invalid token", {"reason": "invalid_token"}) from exc
        return TokenClaims(
            sub=str(data["sub"]),
            jti=str(data["jti"]),
            typ=str(data["typ"]),
            exp=int(data["exp"]),
            iat=int(data["iat"]),
            fam=data.get("fam"),
            scope=data.get("scope"),
            client_id=data.get("client_id"),
        )


def looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2 and value.startswith("ey")
