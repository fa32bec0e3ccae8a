"""SQLite persistence of executions, their per-node records and their logs.

`ExecutionStore` is a mixin of `SqliteStore` (it uses its writer, reader and lock). The
engine's hot path writes through `write_execution_batch()`: every node record, log line,
progress change and terminal state gathered since the last flush goes to SQLite in ONE
transaction run in ONE hop to the writer thread (aiosqlite's public API pays a hop per
statement; `Connection._execute` runs a whole callable in its thread).

Node records and log lines travel as ONE JSON array each, expanded by SQLite itself
(`INSERT ... SELECT ... FROM json_each(?)`). With `executemany` the writer thread needs
the GIL for every row's parameters, so a busy event loop and a big flush slow each
other down (measured: a 10k-row flush next to a busy loop took seconds); SQLite parses
JSON without the GIL, so the writer thread runs beside the loop instead of against it.

Guards that make durability hold whatever the timing:
- an engine writes only executions it still holds (its `engine_id`, a non-terminal
  status): a stale engine can never overwrite a reaped or stopped execution;
- terminal states never change: every transition's UPDATE requires a live status.
Must never import tornado or anything from api/ or engine/.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..models import Execution, ExecutionNode, LogEntry, Page, from_epoch

T = TypeVar("T")

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
LIVE = "('queued', 'running')"

_EXEC_COLS = (
    "id, workflow_id, user_id, workflow_version, status, progress, current_node, input, "
    "output, error, node_versions, retry_of, retry_mode, requeue_count, engine_id, "
    "lease_expires_at, created_at, started_at, finished_at"
)
_NODE_COLS = (
    "execution_id, node_id, node_type, node_version, status, attempts, started_at, "
    "finished_at, outputs, error"
)
_NODE_UPSERT = f"INSERT OR REPLACE INTO execution_nodes ({_NODE_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)"
_LOG_INSERT = (
    "INSERT INTO execution_logs (execution_id, ts, level, node_id, message) VALUES (?,?,?,?,?)"
)
# The batched forms: one JSON array of rows; only rows of executions the engine holds.
_HELD_BY = f"(SELECT id FROM executions WHERE engine_id = ? AND status IN {LIVE})"
_NODE_UPSERT_JSON = (
    f"INSERT OR REPLACE INTO execution_nodes ({_NODE_COLS}) SELECT "
    + ", ".join(f"value->>{i}" for i in range(10))
    + f" FROM json_each(?) WHERE value->>0 IN {_HELD_BY}"
)
_LOG_INSERT_JSON = (
    "INSERT INTO execution_logs (execution_id, ts, level, node_id, message) SELECT "
    + ", ".join(f"value->>{i}" for i in range(5))
    + f" FROM json_each(?) WHERE value->>0 IN {_HELD_BY}"
)


def _fail_live(
    conn: sqlite3.Connection, ex_id: str, now: float, error_json: str, message: str
) -> None:
    """Fail a live execution that lost its engine, and its running nodes, with a log line
    saying why (reaper and shutdown release share this; terminal rows never change)."""
    conn.execute(
        "UPDATE executions SET status = 'failed', error = ?, finished_at = ?, "
        f"lease_expires_at = NULL WHERE id = ? AND status IN {LIVE}",
        (error_json, now, ex_id),
    )
    conn.execute(
        "UPDATE execution_nodes SET status = 'failed', error = ?, finished_at = ? "
        "WHERE execution_id = ? AND status = 'running'",
        (error_json, now, ex_id),
    )
    conn.execute(_LOG_INSERT, (ex_id, now, "error", None, message))


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _ts(value: Any) -> float | None:
    return None if value is None else value.timestamp()


def execution_from_row(row: Sequence[Any]) -> Execution:
    return Execution(
        id=row[0],
        workflow_id=row[1],
        user_id=row[2],
        workflow_version=row[3],
        status=row[4],
        progress=row[5],
        current_node=row[6],
        input=json.loads(row[7]),
        output=_loads(row[8]),
        error=_loads(row[9]),
        node_versions=json.loads(row[10]),
        retry_of=row[11],
        retry_mode=row[12],
        requeue_count=row[13],
        engine_id=row[14],
        lease_expires_at=from_epoch(row[15]),
        created_at=from_epoch(row[16]),
        started_at=from_epoch(row[17]),
        finished_at=from_epoch(row[18]),
    )


def node_from_row(row: Sequence[Any]) -> ExecutionNode:
    return ExecutionNode(
        execution_id=row[0],
        node_id=row[1],
        node_type=row[2],
        node_version=row[3],
        status=row[4],
        attempts=row[5],
        started_at=from_epoch(row[6]),
        finished_at=from_epoch(row[7]),
        outputs=_loads(row[8]),
        error=_loads(row[9]),
    )


def node_row(node: ExecutionNode) -> tuple[Any, ...]:
    return (
        node.execution_id,
        node.node_id,
        node.node_type,
        node.node_version,
        node.status,
        node.attempts,
        _ts(node.started_at),
        _ts(node.finished_at),
        None if node.outputs is None else _dumps(node.outputs),
        None if node.error is None else _dumps(node.error),
    )


@dataclass(slots=True)
class ExecutionBatch:
    """What one engine flush commits, in this order, in one transaction.

    Rows are plain tuples built by the engine (see the column orders below) so the
    writer thread does nothing but `executemany`.
    """

    engine_id: str
    # (started_at, lease_expires_at, execution_id): queued -> running
    started: list[tuple[float, float, str]] = field(default_factory=list)
    # _NODE_COLS order
    nodes: list[tuple[Any, ...]] = field(default_factory=list)
    # (execution_id, ts, level, node_id, message)
    logs: list[tuple[Any, ...]] = field(default_factory=list)
    # (progress, current_node, execution_id)
    progress: list[tuple[float, str | None, str]] = field(default_factory=list)
    # (status, progress, current_node, output_json, error_json, finished_at, execution_id)
    finished: list[tuple[Any, ...]] = field(default_factory=list)

    # the executions the rows belong to (the engine fills it as it builds the batch)
    ids: set[str] = field(default_factory=set)

    def execution_ids(self) -> set[str]:
        if self.ids:
            return self.ids
        ids = {row[2] for row in self.started}
        ids.update(row[0] for row in self.nodes)
        ids.update(row[0] for row in self.logs)
        ids.update(row[2] for row in self.progress)
        ids.update(row[6] for row in self.finished)
        return ids

    def __bool__(self) -> bool:
        return bool(self.started or self.nodes or self.logs or self.progress or self.finished)


@dataclass(slots=True)
class ReapedExecution:
    id: str
    user_id: str
    workflow_id: str
    status: str  # "failed" or, when re-queued, "queued"


def _held(conn: sqlite3.Connection, engine_id: str, ids: Iterable[str]) -> set[str]:
    """The executions among `ids` this engine still holds (inside the write transaction,
    so the answer stays true until COMMIT)."""
    wanted = list(ids)
    held: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = conn.execute(
            f"SELECT id FROM executions WHERE engine_id = ? AND status IN {LIVE} "
            f"AND id IN ({','.join('?' * len(chunk))})",
            (engine_id, *chunk),
        ).fetchall()
        held.update(r[0] for r in rows)
    return held


class ExecutionStore:
    """Mixin for SqliteStore: needs `_writer`, `_write_lock`, `_read` and `transaction`."""

    # ------------------------------------------------------------ the write path
    async def _in_writer(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` inside BEGIN IMMEDIATE ... COMMIT in the writer's own thread:
        one hop for a whole batch, under the same lock as every other write."""
        from .sqlite import translate_errors

        writer = self._writer

        def work() -> T:
            conn: sqlite3.Connection = writer._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        async with self._write_lock:
            with translate_errors():
                return await writer._execute(work)

    async def create_execution(
        self,
        execution: Execution,
        reused: Sequence[ExecutionNode] = (),
        *,
        encoded: dict[str, str] | None = None,
    ) -> None:
        """Insert a queued execution (and the node records a retry reuses) and count it
        on its workflow, in one transaction. `encoded` may carry the JSON of
        `definition` and `node_versions`, already encoded (the engine caches them per
        workflow revision: a 10k-node definition is not re-encoded on every run)."""
        ex = execution
        encoded = encoded or {}
        row = (
            ex.id,
            ex.workflow_id,
            ex.user_id,
            ex.workflow_version,
            ex.status,
            ex.progress,
            ex.current_node,
            _dumps(ex.input),
            None if ex.output is None else _dumps(ex.output),
            None if ex.error is None else _dumps(ex.error),
            encoded.get("node_versions") or _dumps(ex.node_versions),
            ex.retry_of,
            ex.retry_mode,
            ex.requeue_count,
            ex.engine_id,
            _ts(ex.lease_expires_at),
            _ts(ex.created_at),
            _ts(ex.started_at),
            _ts(ex.finished_at),
            encoded.get("definition") or (None if ex.definition is None else _dumps(ex.definition)),
        )
        nodes = [node_row(n) for n in reused]

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO executions ({_EXEC_COLS}, definition) VALUES ({','.join('?' * 20)})",
                row,
            )
            conn.execute(
                "UPDATE workflows SET execution_count = execution_count + 1 "
                "WHERE id = ? AND user_id = ?",
                (ex.workflow_id, ex.user_id),
            )
            if nodes:
                conn.executemany(_NODE_UPSERT, nodes)

        await self._in_writer(work)

    async def write_execution_batch(self, batch: ExecutionBatch) -> set[str]:
        """Commit one engine flush; return the executions of the batch the engine still
        held (writes for any other were dropped: it was stopped elsewhere or reaped)."""

        # Encoded here, on the caller's thread: the writer thread then holds the GIL for
        # a handful of calls, whatever the batch size.
        nodes_json = _dumps(batch.nodes) if batch.nodes else None
        logs_json = _dumps(batch.logs) if batch.logs else None
        ids = batch.execution_ids()
        engine_id = batch.engine_id

        def work(conn: sqlite3.Connection) -> set[str]:
            held = _held(conn, engine_id, ids)
            if batch.started:
                conn.executemany(
                    "UPDATE executions SET status = 'running', started_at = ?, "
                    "lease_expires_at = ? WHERE id = ? AND status = 'queued'",
                    [r for r in batch.started if r[2] in held],
                )
            if nodes_json is not None:
                conn.execute(_NODE_UPSERT_JSON, (nodes_json, engine_id))
            if logs_json is not None:
                conn.execute(_LOG_INSERT_JSON, (logs_json, engine_id))
            if batch.progress:
                conn.executemany(
                    "UPDATE executions SET progress = ?, current_node = ? WHERE id = ?",
                    [r for r in batch.progress if r[2] in held],
                )
            if batch.finished:
                conn.executemany(
                    "UPDATE executions SET status = ?, progress = ?, current_node = ?, "
                    "output = ?, error = ?, finished_at = ?, lease_expires_at = NULL "
                    f"WHERE id = ? AND status IN {LIVE}",
                    [r for r in batch.finished if r[6] in held],
                )
            return held

        return await self._in_writer(work)

    async def heartbeat(self, engine_id: str, lease_expires_at: float) -> set[str]:
        """Extend the lease on every live execution this engine holds; return their ids."""

        def work(conn: sqlite3.Connection) -> set[str]:
            rows = conn.execute(
                f"UPDATE executions SET lease_expires_at = ? WHERE engine_id = ? "
                f"AND status IN {LIVE} RETURNING id",
                (lease_expires_at, engine_id),
            ).fetchall()
            return {r[0] for r in rows}

        return await self._in_writer(work)

    async def live_engine_ids(self) -> list[str]:
        rows = await self._read(
            f"SELECT DISTINCT engine_id FROM executions WHERE status IN {LIVE} "
            "AND engine_id IS NOT NULL"
        )
        return [r[0] for r in rows]

    async def reap_executions(
        self,
        engine_id: str,
        *,
        now: float,
        lease_expires_at: float,
        dead_engines: Sequence[str] = (),
        error: dict[str, Any],
    ) -> list[ReapedExecution]:
        """Fail (or re-queue once, where the workflow opts in) every live execution whose
        holder is gone: its lease expired, it never heartbeated, or its engine is known
        dead. Re-queued ones are claimed by `engine_id`. Never touches this engine's own
        executions, and never a terminal one."""
        dead = [d for d in dead_engines if d != engine_id]
        error_json = _dumps(error)

        def work(conn: sqlite3.Connection) -> list[ReapedExecution]:
            stale = "e.lease_expires_at IS NULL OR e.lease_expires_at < ?" + (
                f" OR e.engine_id IN ({','.join('?' * len(dead))})" if dead else ""
            )
            rows = conn.execute(
                "SELECT e.id, e.user_id, e.workflow_id, e.requeue_count, "
                "json_extract(w.settings, '$.requeue_on_interrupt') "
                "FROM executions e JOIN workflows w ON w.id = e.workflow_id "
                f"WHERE e.status IN {LIVE} AND (e.engine_id IS NULL OR e.engine_id != ?) "
                f"AND ({stale}) ORDER BY e.created_at, e.id",
                (engine_id, now, *dead),
            ).fetchall()
            reaped: list[ReapedExecution] = []
            for ex_id, user_id, workflow_id, requeues, opt_in in rows:
                if opt_in == 1 and requeues < 1:
                    conn.execute(
                        "UPDATE executions SET status = 'queued', requeue_count = "
                        "requeue_count + 1, engine_id = ?, lease_expires_at = ?, "
                        "started_at = NULL, progress = 0, current_node = NULL, output = NULL, "
                        f"error = NULL WHERE id = ? AND status IN {LIVE}",
                        (engine_id, lease_expires_at, ex_id),
                    )
                    conn.execute("DELETE FROM execution_nodes WHERE execution_id = ?", (ex_id,))
                    conn.execute(
                        _LOG_INSERT,
                        (ex_id, now, "warning", None, "re-queued after its engine was lost"),
                    )
                    reaped.append(ReapedExecution(ex_id, user_id, workflow_id, "queued"))
                    continue
                _fail_live(conn, ex_id, now, error_json, error["message"])
                reaped.append(ReapedExecution(ex_id, user_id, workflow_id, "failed"))
            return reaped

        return await self._in_writer(work)

    async def release_executions(
        self, engine_id: str, *, now: float, error: dict[str, Any]
    ) -> list[ReapedExecution]:
        """At shutdown: the engine's live executions become failed (`error`), or, where
        the workflow opts in and they were not re-queued before, `queued` with no
        holder, so the next engine to reap re-queues them."""
        error_json = _dumps(error)

        def work(conn: sqlite3.Connection) -> list[ReapedExecution]:
            rows = conn.execute(
                "SELECT e.id, e.user_id, e.workflow_id, e.requeue_count, "
                "json_extract(w.settings, '$.requeue_on_interrupt') "
                "FROM executions e JOIN workflows w ON w.id = e.workflow_id "
                f"WHERE e.engine_id = ? AND e.status IN {LIVE}",
                (engine_id,),
            ).fetchall()
            released: list[ReapedExecution] = []
            for ex_id, user_id, workflow_id, requeues, opt_in in rows:
                if opt_in == 1 and requeues < 1:
                    conn.execute(
                        "UPDATE executions SET status = 'queued', engine_id = NULL, "
                        "lease_expires_at = NULL WHERE id = ?",
                        (ex_id,),
                    )
                    released.append(ReapedExecution(ex_id, user_id, workflow_id, "queued"))
                    continue
                _fail_live(conn, ex_id, now, error_json, error["message"])
                released.append(ReapedExecution(ex_id, user_id, workflow_id, "failed"))
            return released

        return await self._in_writer(work)

    async def stop_execution(
        self, user_id: str, execution_id: str, *, now: float, error: dict[str, Any]
    ) -> bool:
        """Stop a live execution that no engine in this process runs (its holder learns
        of it at its next heartbeat). False when it is terminal, missing or not owned."""

        def work(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE executions SET status = 'stopped', error = ?, finished_at = ?, "
                f"lease_expires_at = NULL WHERE id = ? AND user_id = ? AND status IN {LIVE}",
                (_dumps(error), now, execution_id, user_id),
            )
            if cur.rowcount != 1:
                return False
            conn.execute(
                "UPDATE execution_nodes SET status = 'stopped', finished_at = ? "
                "WHERE execution_id = ? AND status = 'running'",
                (now, execution_id),
            )
            conn.execute(_LOG_INSERT, (execution_id, now, "warning", None, "execution stopped"))
            return True

        return await self._in_writer(work)

    # ------------------------------------------------------------ reads
    async def get_execution(
        self, user_id: str, execution_id: str, *, with_nodes: bool = True
    ) -> Execution | None:
        rows = await self._read(
            f"SELECT {_EXEC_COLS}, definition FROM executions WHERE id = ? AND user_id = ?",
            (execution_id, user_id),
        )
        if not rows:
            return None
        ex = execution_from_row(rows[0])
        ex.definition = _loads(rows[0][19])
        if with_nodes:
            node_rows = await self._read(
                f"SELECT {_NODE_COLS} FROM execution_nodes WHERE execution_id = ?",
                (execution_id,),
            )
            ex.nodes = [node_from_row(r) for r in node_rows]
        return ex

    async def list_executions(
        self,
        user_id: str,
        *,
        page: int,
        limit: int,
        workflow_id: str | None = None,
        status: str | None = None,
    ) -> Page:
        where, params = ["user_id = ?"], [user_id]
        if workflow_id is not None:
            where.append("workflow_id = ?")
            params.append(workflow_id)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        clause = " AND ".join(where)
        rows = await self._read(
            f"SELECT {_EXEC_COLS}, COUNT(*) OVER () FROM executions WHERE {clause} "
            "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (*params, limit, (page - 1) * limit),
        )
        if rows:
            total = rows[0][19]
        elif page > 1:
            total = (await self._read(f"SELECT COUNT(*) FROM executions WHERE {clause}", params))[
                0
            ][0]
        else:
            total = 0
        return Page([execution_from_row(r) for r in rows], page, limit, total)

    async def get_executions(self, user_id: str, execution_ids: list[str]) -> list[Execution]:
        ids = list(dict.fromkeys(execution_ids))[:1000]
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        rows = await self._read(
            f"SELECT {_EXEC_COLS}, definition FROM executions "
            f"WHERE user_id = ? AND id IN ({marks})",
            (user_id, *ids),
        )
        found = {}
        for row in rows:
            ex = execution_from_row(row)
            ex.definition = _loads(row[19])
            ex.nodes = []
            found[ex.id] = ex
        if found:
            node_rows = await self._read(
                f"SELECT {_NODE_COLS} FROM execution_nodes "
                f"WHERE execution_id IN ({', '.join('?' * len(found))})",
                tuple(found),
            )
            for row in node_rows:
                found[row[0]].nodes.append(node_from_row(row))
        return list(found.values())

    async def recent_executions(
        self, user_id: str, workflow_ids: list[str], limit: int
    ) -> dict[str, list[Execution]]:
        ids = list(dict.fromkeys(workflow_ids))[:1000]
        if not ids:
            return {}
        rows = await self._read(
            f"SELECT {_EXEC_COLS} FROM ("
            f"SELECT {_EXEC_COLS}, ROW_NUMBER() OVER (PARTITION BY workflow_id "
            "ORDER BY created_at DESC, id DESC) AS n FROM executions "
            f"WHERE user_id = ? AND workflow_id IN ({', '.join('?' * len(ids))})"
            ") WHERE n <= ? ORDER BY workflow_id, created_at DESC, id DESC",
            (user_id, *ids, limit),
        )
        found: dict[str, list[Execution]] = {}
        for row in rows:
            found.setdefault(row[1], []).append(execution_from_row(row))
        return found

    async def list_execution_logs(
        self, user_id: str, execution_id: str, *, after: int, limit: int
    ) -> tuple[list[LogEntry], int] | None:
        """Log lines with id > `after` (oldest first) and the execution's total line
        count; None when the execution is missing or not the user's."""
        rows = await self._read(
            "SELECT l.id, l.execution_id, l.ts, l.level, l.node_id, l.message, "
            "(SELECT COUNT(*) FROM execution_logs WHERE execution_id = e.id) "
            "FROM executions e LEFT JOIN execution_logs l "
            "ON l.execution_id = e.id AND l.id > ? "
            "WHERE e.id = ? AND e.user_id = ? ORDER BY l.id LIMIT ?",
            (after, execution_id, user_id, limit),
        )
        if not rows:
            return None
        total = rows[0][6]
        entries = [
            LogEntry(r[0], r[1], from_epoch(r[2]), r[3], r[4], r[5])
            for r in rows
            if r[0] is not None
        ]
        return entries, total
