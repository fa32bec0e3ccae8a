"""Pages of list answers (`{"<items>": [...], "pagination": {page, limit, total,
total_pages}}`) that know how to fetch the next page.

`page.items` is this page only. Iterating a page (`for wf in page`, or `async for` on the
async client) walks every item of every following page, fetching them lazily, like
openai-python's pages. Paging is by page number, as the API pages: an item created
while you iterate may shift the numbering, so iterate for reading, not for bookkeeping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from ._base_client import BaseClient, Call

T = TypeVar("T")

__all__ = ["AsyncPage", "BasePage", "SyncPage"]


class BasePage(Generic[T]):
    """One page: its items, the pagination numbers, and the call that fetches more."""

    def __init__(
        self,
        client: BaseClient,
        call: Call[Any],
        items: list[T],
        pagination: dict[str, Any],
        raw: dict[str, Any],
    ) -> None:
        self._client = client
        self._call = call
        self.items = items
        self.pagination = pagination
        self.raw = raw

    @classmethod
    def from_answer(cls, client: BaseClient, call: Call[Any], data: Any) -> BasePage[T]:
        spec = call.page
        assert spec is not None
        data = data if isinstance(data, dict) else {}
        items = [spec.model(item) for item in data.get(spec.key) or []]
        pagination = data.get("pagination") if isinstance(data.get("pagination"), dict) else {}
        return cls(client, call, items, pagination, data)

    @property
    def page(self) -> int:
        return int(self.pagination.get("page") or (self._call.params or {}).get("page") or 1)

    @property
    def limit(self) -> int | None:
        return self.pagination.get("limit")

    @property
    def total(self) -> int | None:
        return self.pagination.get("total")

    @property
    def total_pages(self) -> int | None:
        return self.pagination.get("total_pages")

    def has_next_page(self) -> bool:
        if not self.items:
            return False
        if self.total_pages is not None:
            return self.page < self.total_pages
        return self.limit is not None and len(self.items) >= self.limit

    def _next_call(self) -> Call[Any]:
        return self._call.with_params(page=self.page + 1)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} page={self.page}/{self.total_pages} "
            f"items={len(self.items)} total={self.total}>"
        )


class SyncPage(BasePage[T]):
    def next_page(self) -> SyncPage[T] | None:
        """The following page, or None after the last one."""
        if not self.has_next_page():
            return None
        return self._client._request(self._next_call())  # type: ignore[attr-defined]

    def iter_pages(self) -> Iterator[SyncPage[T]]:
        page: SyncPage[T] | None = self
        while page is not None:
            yield page
            page = page.next_page()

    def __iter__(self) -> Iterator[T]:
        for page in self.iter_pages():
            yield from page.items


class AsyncPage(BasePage[T]):
    async def next_page(self) -> AsyncPage[T] | None:
        """The following page, or None after the last one."""
        if not self.has_next_page():
            return None
        return await self._client._request(self._next_call())  # type: ignore[attr-defined]

    async def iter_pages(self) -> AsyncIterator[AsyncPage[T]]:
        page: AsyncPage[T] | None = self
        while page is not None:
            yield page
            page = await page.next_page()

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            for item in page.items:
                yield item
