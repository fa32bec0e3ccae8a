"""`/auth`: log in, rotate the refresh token, log out, and who am I.

`login()` and `refresh()` also install the new token on the client, so the client that
logged in goes on working as that user; `logout()` drops it.
"""

from __future__ import annotations

from typing import Any

from .._base_client import Call, Credentials
from .._types import Token, User
from ._resource import AsyncAPIResource, SyncAPIResource


def _login_call(credentials: Credentials, email: str, password: str) -> Call[Token]:
    return Call(
        "POST",
        "auth/login",
        json={"email": email, "password": password},
        cast=Token.from_api,
        authenticated=False,
        on_success=credentials.apply_login,
    )


def _logout_call(credentials: Credentials) -> Call[None]:
    # Revoking twice is harmless, so a lost answer may be retried.
    return Call(
        "POST",
        "auth/logout",
        idempotent=True,
        refresh_on_expired=False,
        on_success=credentials.clear_login,
    )


def _me(data: Any) -> User:
    return User.from_api({**data["user"], "via": data.get("via")})


_ME = Call("GET", "auth/me", cast=_me)


class Auth(SyncAPIResource):
    def login(self, email: str, password: str) -> Token:
        """Log in; the client then acts as this user and refreshes the token itself."""
        return self._client._request(_login_call(self._client.credentials, email, password))

    def refresh(self, refresh_token: str | None = None) -> Token:
        """Rotate the refresh token (the client's own unless one is given)."""
        return self._client._request(self._client._refresh_call(refresh_token))

    def logout(self) -> None:
        """Revoke this login (its access token and its refresh family)."""
        self._client._request(_logout_call(self._client.credentials))

    def me(self) -> User:
        """The user this client acts as; `.via` says through which credential."""
        return self._client._request(_ME)


class AsyncAuth(AsyncAPIResource):
    async def login(self, email: str, password: str) -> Token:
        """Log in; the client then acts as this user and refreshes the token itself."""
        return await self._client._request(_login_call(self._client.credentials, email, password))

    async def refresh(self, refresh_token: str | None = None) -> Token:
        """Rotate the refresh token (the client's own unless one is given)."""
        return await self._client._request(self._client._refresh_call(refresh_token))

    async def logout(self) -> None:
        """Revoke this login (its access token and its refresh family)."""
        await self._client._request(_logout_call(self._client.credentials))

    async def me(self) -> User:
        """The user this client acts as; `.via` says through which credential."""
        return await self._client._request(_ME)
