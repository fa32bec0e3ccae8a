"""Per-operation context: who asks, the services, and batching loaders.

Resolvers reach services only through `ctx.call(...)`: on the server's event loop it is a
plain await; when a large operation executes in a worker thread (see execution.py) it
runs the service coroutine on the server's loop, where the store's connections live, and
waits for it. Loaders are per operation, so nothing cached outlives one request and no
user's data can leak into another's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from aiodataloader import DataLoader

from ...auth.identity import Principal
from ...errors import Forbidden
from ...runtime import AxonRuntime

T = TypeVar("T")


class GraphQLContext:
    def __init__(self, runtime: AxonRuntime, principal: Principal):
        self.runtime = runtime
        self.principal = principal
        self.home_loop = asyncio.get_running_loop()
        self._loaders: dict[str, DataLoader] = {}

    async def call(self, awaitable: Awaitable[T]) -> T:
        if asyncio.get_running_loop() is self.home_loop:
            return await awaitable
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(awaitable), self.home_loop)
        return await asyncio.wrap_future(future)

    def require(self, scope: str) -> None:
        """The REST endpoint's scope rule for the same operation (403 naming the scope)."""
        if not self.principal.has_scope(scope):
            raise Forbidden(f"missing scope {scope}", {"scope": scope})

    # ------------------------------------------------------------ loaders
    def loader(self, name: str) -> DataLoader:
        """One loader per kind and operation, created in the loop that executes it."""
        found = self._loaders.get(name)
        if found is None:
            found = self._loaders[name] = DataLoader(getattr(self, f"_batch_{name}"))
        return found

    async def _batch_workflows(self, ids: list[str]) -> list[Any]:
        """Workflows (with definitions) by id, for list items and Execution.workflow."""
        found = await self.call(self.runtime.workflows.get_many(self.principal, list(ids)))
        return [found.get(i) for i in ids]

    async def _batch_executions(self, keys: list[tuple[str, int]]) -> list[list[Any]]:
        """Recent executions of many workflows, one service call per distinct limit."""
        by_limit: dict[int, list[str]] = {}
        for workflow_id, limit in keys:
            by_limit.setdefault(limit, []).append(workflow_id)
        found: dict[tuple[str, int], list[Any]] = {}
        for limit, workflow_ids in by_limit.items():
            recent = await self.call(
                self.runtime.executions.recent_for_workflows(
                    self.principal, workflow_ids, limit=limit
                )
            )
            for workflow_id in workflow_ids:
                found[(workflow_id, limit)] = recent.get(workflow_id, [])
        return [found[key] for key in keys]

    async def _batch_executions_full(self, ids: list[str]) -> list[Any]:
        """Executions with their node records, for list items (which come without)."""
        found = await self.call(self.runtime.executions.get_many(self.principal, list(ids)))
        return [found.get(i) for i in ids]


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable
