"""System health: one snapshot function and one ticker that publishes it on the event bus.

The snapshot (uptime, queued and running executions, store status) is what GraphQL's
`systemHealth` and the `system_health` WebSocket event carry. One ticker per server
computes it every `interval` seconds while anyone listens, so a thousand subscribers
cost one store read per interval, not a thousand. Must never import tornado or api/.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from .._version import __version__
from ..engine.events import SYSTEM_HEALTH, Event, EventBus
from ..errors import AxonError
from ..models import iso, utcnow
from ..store.base import Store

log = logging.getLogger("axon.health")


class HealthMonitor:
    def __init__(self, store: Store, events: EventBus, *, interval: float = 10.0):
        self.store = store
        self.events = events
        self.interval = interval
        self.started = time.monotonic()
        self._task: asyncio.Task | None = None

    async def snapshot(self) -> dict[str, Any]:
        """Current health; a failing store reports itself instead of raising."""
        store_status, counts = "ok", {}
        try:
            counts = await self.store.execution_status_counts()
        except AxonError as exc:
            store_status = "unavailable"
            log.warning("health: store unavailable: %s", exc.message)
        except Exception:  # a health probe reports trouble, it never raises it
            store_status = "error"
            log.exception("health: store check failed")
        return {
            "status": "ok" if store_status == "ok" else "degraded",
            "version": __version__,
            "uptime": round(time.monotonic() - self.started, 3),
            "running_executions": counts.get("running", 0),
            "queued_executions": counts.get("queued", 0),
            "store": store_status,
            "subscribers": self.events.subscriber_count,
            "timestamp": iso(utcnow()),
        }

    def start(self) -> None:
        if self._task is None and self.interval > 0:
            self._task = asyncio.ensure_future(self._tick())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self.events.subscriber_count:
                self.events.publish(Event(SYSTEM_HEALTH, await self.snapshot()))

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
