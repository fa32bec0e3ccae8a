"""The one in-process event bus: execution, per-node, notification and health events.

Publishing is synchronous and never blocks or awaits: the engine calls `publish()` right
after it has committed a state change, and the bus hands the event to every matching
subscription's bounded queue. A subscriber that falls behind is not allowed to grow
memory: its queue overflows, the subscription is closed with `SlowConsumer`, and the
transport (WebSocket, GraphQL subscription) ends that connection with a clear code.

Interface (used by api/ws.py, the GraphQL subscriptions, the engine and tests):
    bus = EventBus()
    sub = bus.subscribe(user_id, workflow_id=None, execution_id=None, maxsize=1000)
    bus.publish(Event("execution_update", data, user_id=..., workflow_id=..., execution_id=...))
    async for event in sub: ...          # raises SlowConsumer after an overflow
    sub.narrow(workflow_id=..., execution_id=...); sub.close()
`user_id=None` on an event broadcasts it to every subscription (system health).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

EXECUTION_UPDATE = "execution_update"
NODE_UPDATE = "node_update"
NOTIFICATION = "notification"
SYSTEM_HEALTH = "system_health"


class SlowConsumer(Exception):
    """The subscription fell `maxsize` events behind and was closed."""


class SubscriptionClosed(Exception):
    """The subscription was closed (by its owner or by bus shutdown)."""


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    data: dict[str, Any]
    user_id: str | None = None
    workflow_id: str | None = None
    execution_id: str | None = None
    seq: int = 0

    def message(self) -> dict[str, Any]:
        """The wire shape of the seed's WebSocket API: {"type", "data"}."""
        return {"type": self.type, "data": self.data}


@dataclass(eq=False, slots=True)
class Subscription:
    bus: EventBus
    user_id: str | None
    maxsize: int
    workflow_ids: set[str] = field(default_factory=set)
    execution_ids: set[str] = field(default_factory=set)
    types: frozenset[str] | None = None
    _queue: deque[Event] = field(default_factory=deque)
    _waiter: asyncio.Future | None = None
    _error: Exception | None = None

    def matches(self, event: Event) -> bool:
        if self.types is not None and event.type not in self.types:
            return False
        if event.user_id is None:
            return True
        if self.workflow_ids or self.execution_ids:
            return (
                event.workflow_id in self.workflow_ids or event.execution_id in self.execution_ids
            )
        return True

    def narrow(self, *, workflow_id: str | None = None, execution_id: str | None = None) -> None:
        """Restrict delivery to these workflows/executions (empty sets: everything owned)."""
        if workflow_id:
            self.workflow_ids.add(workflow_id)
        if execution_id:
            self.execution_ids.add(execution_id)

    def widen(self, *, workflow_id: str | None = None, execution_id: str | None = None) -> None:
        self.workflow_ids.discard(workflow_id)
        self.execution_ids.discard(execution_id)

    def _push(self, event: Event) -> None:
        if self._error is not None:
            return
        if len(self._queue) >= self.maxsize:
            self._fail(SlowConsumer(f"subscriber fell {self.maxsize} events behind"))
            return
        self._queue.append(event)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: Exception) -> None:
        self._error = error
        self._queue.clear()
        self.bus._remove(self)
        self._wake()

    def close(self) -> None:
        if self._error is None:
            self._fail(SubscriptionClosed("subscription closed"))

    @property
    def closed(self) -> bool:
        return self._error is not None

    def pending(self) -> int:
        return len(self._queue)

    def get_nowait(self) -> Event | None:
        if self._queue:
            return self._queue.popleft()
        if self._error is not None:
            raise self._error
        return None

    async def get(self) -> Event:
        while True:
            event = self.get_nowait()
            if event is not None:
                return event
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        try:
            while True:
                yield await self.get()
        except SubscriptionClosed:
            return


class EventBus:
    def __init__(self, default_maxsize: int = 1000):
        self.default_maxsize = default_maxsize
        self._by_user: dict[str | None, set[Subscription]] = {}
        self._all: set[Subscription] = set()
        self._seq = itertools.count(1)

    def subscribe(
        self,
        user_id: str | None,
        *,
        workflow_id: str | None = None,
        execution_id: str | None = None,
        types: frozenset[str] | set[str] | None = None,
        maxsize: int | None = None,
    ) -> Subscription:
        """Events owned by `user_id` (plus broadcasts). `user_id=None` sees everything:
        for trusted in-process consumers only (tests, metrics), never for a client."""
        sub = Subscription(
            self,
            user_id,
            maxsize or self.default_maxsize,
            types=frozenset(types) if types is not None else None,
        )
        sub.narrow(workflow_id=workflow_id, execution_id=execution_id)
        self._by_user.setdefault(user_id, set()).add(sub)
        self._all.add(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        self._all.discard(sub)
        subs = self._by_user.get(sub.user_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._by_user[sub.user_id]

    def publish(self, event: Event) -> Event:
        """Deliver to every matching subscription now; returns the sequenced event."""
        event = Event(
            event.type,
            event.data,
            event.user_id,
            event.workflow_id,
            event.execution_id,
            next(self._seq),
        )
        if event.user_id is None:
            targets: set[Subscription] | list[Subscription] = list(self._all)
        else:
            targets = list(self._by_user.get(event.user_id, ())) + list(self._by_user.get(None, ()))
        for sub in targets:
            if sub.matches(event):
                sub._push(event)
        return event

    @property
    def subscriber_count(self) -> int:
        return len(self._all)

    def close(self) -> None:
        for sub in list(self._all):
            sub.close()
