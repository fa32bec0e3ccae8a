"""The journal: how the engine's state changes reach SQLite and then the event bus.

Every state change is recorded here first (node records, log lines, progress, an
execution starting or finishing) and flushed in batches: one transaction, one hop to
the writer thread (`Store.write_execution_batch`). Events for a batch are published
only after its COMMIT returned, so nothing a client can observe, through the API or
the bus, is ever ahead of the database: commit before announce.

Flushing is group commit. A change that someone waits for (an execution reaching a
terminal state, `commit()`) flushes at once; other changes (a node finishing, a log
line, progress) ride along with the next flush, at most `interval` seconds later, or
sooner once `batch_rows` rows wait: the writer thread then works through them on the
other core while the DAG runs on, instead of leaving one big tail for the end.
While a flush is in flight, new changes accumulate and go in the next one, so under
load batches grow instead of commits multiplying. A failed flush (database locked or
full) is retried with backoff; nothing recorded is dropped.

Only executions the engine still holds are written (see store/executions.py); the
journal reports the others to `on_lost` so their runs stop without writing.
Must never import tornado or anything from api/.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..models import iso, utcnow
from ..store.base import Store
from ..store.executions import ExecutionBatch
from .events import EXECUTION_UPDATE, NODE_UPDATE, NOTIFICATION, Event, EventBus

if TYPE_CHECKING:
    from .executor import ExecutionRun, NodeState

log = logging.getLogger("axon.engine")

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_MAX_BACKOFF = 5.0
_FINAL = frozenset({"succeeded", "skipped", "stopped", "failed"})


def _iso_epoch(value: float | None) -> str | None:
    from datetime import UTC, datetime

    return None if value is None else iso(datetime.fromtimestamp(value, UTC))


class Journal:
    def __init__(
        self,
        store: Store,
        events: EventBus,
        engine_id: str,
        *,
        lease_s: float,
        interval: float = 0.05,
        batch_rows: int = 500,
        on_lost: Callable[[set[str]], None] | None = None,
    ):
        self.store = store
        self.events = events
        self.engine_id = engine_id
        self.lease_s = lease_s
        self.interval = interval
        self.batch_rows = batch_rows
        self.on_lost = on_lost
        # Node records waiting for a flush: the final row of a finished node (plain
        # values: the live record is gone at once, so a big DAG leaves nothing behind for
        # the garbage collector), and the live record of a node still running (its row is
        # taken at flush time). Keyed (execution id, node id): the newest state wins.
        self._rows: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._live: dict[tuple[str, str], NodeState] = {}
        self._row_runs: dict[str, ExecutionRun] = {}
        self._logs: list[tuple[Any, ...]] = []
        self._progress: list[ExecutionRun] = []
        self._started: list[ExecutionRun] = []
        self._finished: list[ExecutionRun] = []
        self._waiters: list[asyncio.Future] = []
        self._timer: asyncio.TimerHandle | asyncio.Handle | None = None
        self._flushing: asyncio.Task | None = None
        self._urgent = False
        self.flushes = 0  # for tests and benchmarks: how many transactions so far

    # ------------------------------------------------------------ recording
    def node(self, state: NodeState) -> None:
        run = state.run
        key = (run.id, state.id)
        if state.status in _FINAL:
            row = state.row()
            self._rows[key] = row
            self._live.pop(key, None)
            run.final_rows[state.id] = row
        else:
            self._live[key] = state
        self._row_runs[run.id] = run
        if self._flushing is None:
            if len(self._rows) >= self.batch_rows:
                self._kick_now()
            elif self._timer is None:
                self._schedule()

    def log(self, row: tuple[Any, ...]) -> None:
        self._logs.append(row)
        if self._flushing is None:
            if len(self._logs) >= self.batch_rows:
                self._kick_now()
            elif self._timer is None:
                self._schedule()

    def progress(self, run: ExecutionRun) -> None:
        if not run.progress_dirty:
            run.progress_dirty = True
            self._progress.append(run)
            if self._timer is None and self._flushing is None:
                self._schedule()

    def started(self, run: ExecutionRun) -> None:
        self._started.append(run)
        if self._timer is None and self._flushing is None:
            self._schedule()

    def finished(self, run: ExecutionRun) -> asyncio.Future:
        """Record a terminal state; the future resolves once it is committed."""
        self._finished.append(run)
        return self.commit()

    def commit(self) -> asyncio.Future:
        """A future resolved when everything recorded so far is committed (and announced)."""
        future = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        self._kick_now()
        return future

    @property
    def pending(self) -> bool:
        return bool(
            self._rows
            or self._live
            or self._logs
            or self._progress
            or self._started
            or self._finished
            or self._waiters
        )

    async def drain(self) -> None:
        """Commit everything recorded so far (used at shutdown)."""
        if self.pending or self._flushing is not None:
            await self.commit()

    # ------------------------------------------------------------ scheduling
    def _schedule(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self.interval, self._start)

    def _kick_now(self) -> None:
        if self._flushing is not None:
            self._urgent = True
            return
        if self._timer is not None:
            self._timer.cancel()
        # call_soon: everything recorded in this loop iteration joins the batch.
        self._timer = asyncio.get_running_loop().call_soon(self._start)

    def _start(self) -> None:
        self._timer = None
        if self._flushing is None:
            self._flushing = asyncio.ensure_future(self._flush_loop())

    # ------------------------------------------------------------ flushing
    def _build(self) -> tuple[ExecutionBatch, list[tuple[str, Event]], list[asyncio.Future], Any]:
        now = time.time()
        batch = ExecutionBatch(self.engine_id)
        announce: list[tuple[str, Event]] = []
        listen = self.events.subscriber_count > 0
        ids = batch.ids
        final, self._rows = self._rows, {}
        live, self._live = self._live, {}
        row_runs, self._row_runs = self._row_runs, {}
        rows = batch.nodes = list(final.values())
        rows.extend(st.row() for st in live.values())
        ids.update(row_runs)
        if listen:
            for row in rows:
                announce.append((row[0], node_event(row_runs[row[0]], row)))
        logs, self._logs = self._logs, []
        batch.logs = logs
        ids.update({row[0] for row in logs})
        started, self._started = self._started, []
        for run in started:
            ids.add(run.id)
            batch.started.append((run.started_at, now + self.lease_s, run.id))
            if listen:
                announce.append((run.id, run.update_event("running")))
        progress, self._progress = self._progress, []
        for run in progress:
            ids.add(run.id)
            run.progress_dirty = False
            batch.progress.append((run.progress, run.current_node, run.id))
            if listen:
                announce.append((run.id, run.update_event("running")))
        finished, self._finished = self._finished, []
        for run in finished:
            ids.add(run.id)
            batch.finished.append(
                (
                    run.status,
                    run.progress,
                    run.current_node,
                    None if run.output is None else _dumps(run.output),
                    None if run.error is None else _dumps(run.error),
                    run.finished_at,
                    run.id,
                )
            )
            if listen:
                announce.append((run.id, run.update_event(run.status)))
                announce.append((run.id, run.notification_event()))
        waiters, self._waiters = self._waiters, []
        return batch, announce, waiters, (final, live, row_runs, logs, started, progress, finished)

    def _restore(self, parts: Any, waiters: list[asyncio.Future]) -> None:
        """Put a failed batch back in front of what was recorded since."""
        final, live, row_runs, logs, started, progress, finished = parts
        for key, row in final.items():
            if key not in self._rows:
                self._rows[key] = row
                self._live.pop(key, None)
        for key, st in live.items():
            if key not in self._rows and key not in self._live:
                self._live[key] = st
        for run_id, run in row_runs.items():
            self._row_runs.setdefault(run_id, run)
        self._logs[:0] = logs
        self._started[:0] = started
        for run in progress:
            if not run.progress_dirty:
                run.progress_dirty = True
                self._progress.append(run)
        self._finished[:0] = finished
        self._waiters[:0] = waiters

    async def _flush_loop(self) -> None:
        backoff = 0.1
        try:
            while True:
                self._urgent = False
                batch, announce, waiters, parts = self._build()
                if batch:
                    try:
                        held = await self.store.write_execution_batch(batch)
                    except Exception as exc:  # locked/full/IO: keep everything, retry
                        self._restore(parts, waiters)
                        log.warning(
                            "engine journal flush failed (%s); retrying in %.1fs", exc, backoff
                        )
                        await asyncio.sleep(backoff)
                        backoff = min(backoff * 2, _MAX_BACKOFF)
                        continue
                    backoff = 0.1
                    self.flushes += 1
                    publish = self.events.publish
                    for execution_id, event in announce:
                        if execution_id in held:
                            publish(event)
                    lost = batch.execution_ids() - held
                    if lost and self.on_lost is not None:
                        self.on_lost(lost)
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)
                if self._urgent or self._waiters:
                    continue
                if self.pending:
                    self._schedule()
                return
        finally:
            self._flushing = None


def node_event(run: ExecutionRun, row: tuple[Any, ...]) -> Event:
    """node_update from a node row (store/executions.py's column order)."""
    return Event(
        NODE_UPDATE,
        {
            "execution_id": run.id,
            "workflow_id": run.workflow_id,
            "node_id": row[1],
            "type": row[2],
            "status": row[4],
            "attempts": row[5],
            "started_at": _iso_epoch(row[6]),
            "finished_at": _iso_epoch(row[7]),
            "error": None if row[9] is None else json.loads(row[9]),
        },
        user_id=run.user_id,
        workflow_id=run.workflow_id,
        execution_id=run.id,
    )


def update_event(run: ExecutionRun, status: str) -> Event:
    return Event(
        EXECUTION_UPDATE,
        {
            "execution_id": run.id,
            "workflow_id": run.workflow_id,
            "status": status,
            "progress": run.progress,
            "current_node": run.current_node,
        },
        user_id=run.user_id,
        workflow_id=run.workflow_id,
        execution_id=run.id,
    )


def notification_event(run: ExecutionRun) -> Event:
    name = run.workflow_name or run.workflow_id
    if run.status == "succeeded":
        level, message = "info", f"Workflow {name!r} completed successfully"
    elif run.status == "stopped":
        level, message = "warning", f"Workflow {name!r} was stopped"
    else:
        reason = (run.error or {}).get("message", "failed")
        level, message = "error", f"Workflow {name!r} failed: {reason}"
    return Event(
        NOTIFICATION,
        {"level": level, "message": message, "timestamp": iso(utcnow())},
        user_id=run.user_id,
        workflow_id=run.workflow_id,
        execution_id=run.id,
    )
