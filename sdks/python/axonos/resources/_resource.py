"""The base of every resource: a handle on its client."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._client import AsyncAxonOS, AxonOS


class SyncAPIResource:
    def __init__(self, client: AxonOS) -> None:
        self._client = client


class AsyncAPIResource:
    def __init__(self, client: AsyncAxonOS) -> None:
        self._client = client
