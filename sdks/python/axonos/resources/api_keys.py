"""`/api-keys`: create (the secret is in the answer, once), list, revoke."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._base_client import Call, quote
from .._types import ApiKey
from ._resource import AsyncAPIResource, SyncAPIResource


def _create_call(
    name: str | None, scopes: Sequence[str] | None, expires_in_days: int | None
) -> Call[ApiKey]:
    body: dict[str, Any] = {}
    if name is not None:
        body["name"] = name
    if scopes is not None:
        body["scopes"] = list(scopes)
    if expires_in_days is not None:
        body["expires_in_days"] = expires_in_days
    return Call("POST", "api-keys", json=body, cast=ApiKey.from_api)


def _keys(data: Any) -> list[ApiKey]:
    return [ApiKey.from_api(k) for k in data.get("api_keys", [])]


_LIST = Call("GET", "api-keys", cast=_keys)


def _revoke_call(key_id: str) -> Call[None]:
    return Call("DELETE", f"api-keys/{quote(key_id)}")


class ApiKeys(SyncAPIResource):
    def create(
        self,
        *,
        name: str | None = None,
        scopes: Sequence[str] | None = None,
        expires_in_days: int | None = None,
    ) -> ApiKey:
        """A new key; `.key` is the secret, shown this once (the server keeps a hash)."""
        return self._client._request(_create_call(name, scopes, expires_in_days))

    def list(self) -> list[ApiKey]:
        """Your keys (never their secrets), revoked ones included with `revoked=True`."""
        return self._client._request(_LIST)

    def revoke(self, key_id: str) -> None:
        """Revoke a key at once; requests made with it then answer 401."""
        self._client._request(_revoke_call(key_id))


class AsyncApiKeys(AsyncAPIResource):
    async def create(
        self,
        *,
        name: str | None = None,
        scopes: Sequence[str] | None = None,
        expires_in_days: int | None = None,
    ) -> ApiKey:
        """A new key; `.key` is the secret, shown this once (the server keeps a hash)."""
        return await self._client._request(_create_call(name, scopes, expires_in_days))

    async def list(self) -> list[ApiKey]:
        """Your keys (never their secrets), revoked ones included with `revoked=True`."""
        return await self._client._request(_LIST)

    async def revoke(self, key_id: str) -> None:
        """Revoke a key at once; requests made with it then answer 401."""
        await self._client._request(_revoke_call(key_id))
