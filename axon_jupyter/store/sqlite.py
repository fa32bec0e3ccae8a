"""SQLite implementation of the store (aiosqlite).

One writer connection behind an asyncio lock (SQLite allows one writer; queueing in
Python is cheaper than spinning on SQLITE_BUSY) and one read-only connection, which WAL
lets read while the writer writes. Every multi-statement write is `BEGIN IMMEDIATE` so
it never deadlocks upgrading a read lock. Reads use `execute_fetchall`: one thread hop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from ..errors import Conflict, Unavailable
from ..models import ApiKey, Page, User, Workflow, WorkflowRevision, from_epoch
from .base import Store
from .executions import ExecutionStore
from .migrations import migrate
from .nodes import NodeStore
from .oauth import OAuthStoreMixin

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@contextlib.contextmanager
def translate_errors():
    """Turn SQLite's failures into the errors a client is meant to see."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise Conflict("conflicts with an existing record", {"reason": str(exc)}) from exc
    except sqlite3.OperationalError as exc:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            raise Unavailable("database is locked", {"reason": "database_locked"}) from exc
        if "full" in text or "disk" in text or "readonly" in text:
            raise Unavailable("database cannot be written", {"reason": str(exc)}) from exc
        raise


_USER_COLS = "id, email, name, password_hash, role, plan, rate_limit, created_at"
_WF_SUMMARY_COLS = (
    "id, user_id, name, description, status, node_count, execution_count, version, "
    "created_at, updated_at"
)


def _user(row: Any) -> User:
    return User(
        id=row[0],
        email=row[1],
        name=row[2],
        password_hash=row[3],
        role=row[4],
        plan=row[5],
        rate_limit=row[6],
        created_at=from_epoch(row[7]),
    )


def _api_key(row: Any) -> ApiKey:
    return ApiKey(
        id=row[0],
        user_id=row[1],
        name=row[2],
        prefix=row[3],
        key_hash=row[4],
        scopes=json.loads(row[5]),
        created_at=from_epoch(row[6]),
        expires_at=from_epoch(row[7]),
        last_used_at=from_epoch(row[8]),
        revoked_at=from_epoch(row[9]),
    )


def _wf_summary(row: Any) -> Workflow:
    return Workflow(
        id=row[0],
        user_id=row[1],
        name=row[2],
        description=row[3],
        status=row[4],
        definition=None,
        node_count=row[5],
        execution_count=row[6],
        version=row[7],
        created_at=from_epoch(row[8]),
        updated_at=from_epoch(row[9]),
    )


class SqliteStore(ExecutionStore, NodeStore, OAuthStoreMixin, Store):
    def __init__(
        self, path: str | Path, *, synchronous: str = "NORMAL", busy_timeout_ms: int = 5000
    ):
        self.path = str(path)
        self.synchronous = synchronous
        self.busy_timeout_ms = busy_timeout_ms
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        # Bumped by every write through transaction()/_write() (all user, key and
        # revocation writes go through them): caches of auth reads compare it to know
        # that nothing changed in this process since they read.
        self.write_generation = 0

    # ---------------------------------------------------------------- lifecycle
    async def _connect(self, *, read_only: bool) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        await conn.executescript(
            f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)};"
            "PRAGMA foreign_keys = ON;"
            f"PRAGMA synchronous = {self.synchronous};"
            + ("PRAGMA query_only = ON;" if read_only else "")
        )
        return conn

    async def open(self, migrate_to: int | None = None) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with translate_errors():
            self._writer = await self._connect(read_only=False)
            await self._writer.execute("PRAGMA journal_mode = WAL")
            await migrate(self._writer, migrate_to)
            self._reader = await self._connect(read_only=True)

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    async def schema(self) -> list[tuple[str, str, str]]:
        """The schema as (type, name, sql) rows: what the migration test compares."""
        rows = await self._read(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
            "ORDER BY type, name"
        )
        return [tuple(r) for r in rows]

    # ---------------------------------------------------------------- primitives
    async def _read(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        with translate_errors():
            return list(await self._reader.execute_fetchall(sql, tuple(params)))

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction on the single writer: BEGIN IMMEDIATE ... COMMIT."""
        async with self._write_lock:
            conn = self._writer
            self.write_generation += 1
            with translate_errors():
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    # SQLite has already rolled back on some errors (SQLITE_FULL, ...).
                    if conn.in_transaction:
                        await conn.execute("ROLLBACK")
                    raise
                await conn.execute("COMMIT")

    async def _write(self, sql: str, params: Iterable[Any] = ()) -> int:
        """A single-statement write (atomic by itself); returns the changed row count."""
        async with self._write_lock:
            self.write_generation += 1
            with translate_errors():
                cur = await self._writer.execute(sql, tuple(params))
                return cur.rowcount

    # ---------------------------------------------------------------- users
    async def create_user(self, user: User) -> None:
        await self._write(
            f"INSERT INTO users ({_USER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                user.id,
                user.email,
                user.name,
                user.password_hash,
                user.role,
                user.plan,
                user.rate_limit,
                _ts(user.created_at),
            ),
        )

    async def get_user(self, user_id: str) -> User | None:
        rows = await self._read(f"SELECT {_USER_COLS} FROM users WHERE id = ?", (user_id,))
        return _user(rows[0]) if rows else None

    async def get_user_by_email(self, email: str) -> User | None:
        rows = await self._read(f"SELECT {_USER_COLS} FROM users WHERE email = ?", (email,))
        return _user(rows[0]) if rows else None

    async def get_user_for_token(self, user_id: str, *revoked_keys: str) -> User | None:
        marks = ", ".join("?" * len(revoked_keys)) or "NULL"
        rows = await self._read(
            f"SELECT {_USER_COLS} FROM users WHERE id = ? "
            f"AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti IN ({marks}))",
            (user_id, *revoked_keys),
        )
        return _user(rows[0]) if rows else None

    async def update_user(self, user: User) -> None:
        await self._write(
            "UPDATE users SET email = ?, name = ?, password_hash = ?, role = ?, plan = ?, "
            "rate_limit = ? WHERE id = ?",
            (
                user.email,
                user.name,
                user.password_hash,
                user.role,
                user.plan,
                user.rate_limit,
                user.id,
            ),
        )

    # ---------------------------------------------------------------- API keys
    async def create_api_key(self, key: ApiKey) -> None:
        await self._write(
            "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, created_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key.id,
                key.user_id,
                key.name,
                key.prefix,
                key.key_hash,
                _dumps(key.scopes),
                _ts(key.created_at),
                _ts(key.expires_at),
            ),
        )

    _KEY_COLS = (
        "k.id, k.user_id, k.name, k.prefix, k.key_hash, k.scopes, k.created_at, k.expires_at, "
        "k.last_used_at, k.revoked_at"
    )

    async def get_api_key_by_hash(self, key_hash: str) -> tuple[ApiKey, User] | None:
        user_cols = ", ".join(f"u.{c.strip()}" for c in _USER_COLS.split(","))
        rows = await self._read(
            f"SELECT {self._KEY_COLS}, {user_cols} FROM api_keys k JOIN users u "
            "ON u.id = k.user_id WHERE k.key_hash = ?",
            (key_hash,),
        )
        if not rows:
            return None
        row = rows[0]
        return _api_key(row[:10]), _user(row[10:])

    async def list_api_keys(self, user_id: str) -> list[ApiKey]:
        rows = await self._read(
            f"SELECT {self._KEY_COLS} FROM api_keys k WHERE k.user_id = ? "
            "ORDER BY k.created_at DESC, k.id",
            (user_id,),
        )
        return [_api_key(r) for r in rows]

    async def revoke_api_key(self, user_id: str, key_id: str, at: datetime) -> bool:
        changed = await self._write(
            "UPDATE api_keys SET revoked_at = ? "
            "WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
            (_ts(at), key_id, user_id),
        )
        return changed == 1

    # ---------------------------------------------------------------- tokens
    async def add_refresh_token(
        self, jti: str, family: str, user_id: str, expires_at: datetime
    ) -> None:
        await self._write(
            "INSERT INTO refresh_tokens (jti, family, user_id, expires_at) VALUES (?, ?, ?, ?)",
            (jti, family, user_id, _ts(expires_at)),
        )

    async def use_refresh_token(self, jti: str, at: datetime) -> tuple[str, str, bool] | None:
        async with self.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT family, user_id, used_at, revoked_at FROM refresh_tokens WHERE jti = ?",
                    (jti,),
                )
            )
            if not rows:
                return None
            family, user_id, used_at, revoked_at = rows[0]
            fresh = used_at is None and revoked_at is None
            if fresh:
                await conn.execute(
                    "UPDATE refresh_tokens SET used_at = ? WHERE jti = ?", (_ts(at), jti)
                )
            return family, user_id, fresh

    async def revoke_family(self, family: str, at: datetime) -> None:
        await self._write(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL",
            (_ts(at), family),
        )

    async def revoke_jti(self, jti: str, expires_at: datetime) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                "INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)",
                (jti, _ts(expires_at)),
            )
            # Housekeeping rides along with a write that already holds the lock.
            await conn.execute(
                "DELETE FROM revoked_tokens WHERE expires_at < ?", (_ts(expires_at) - 86400 * 30,)
            )

    # ---------------------------------------------------------------- workflows
    @staticmethod
    async def _insert_revision(
        conn: aiosqlite.Connection, wf: Workflow, definition: str, restored_from: int | None
    ) -> None:
        await conn.execute(
            "INSERT INTO workflow_revisions (workflow_id, version, name, description, status, "
            "definition, created_at, restored_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                wf.id,
                wf.version,
                wf.name,
                wf.description,
                wf.status,
                definition,
                _ts(wf.updated_at),
                restored_from,
            ),
        )

    async def create_workflow(self, wf: Workflow) -> None:
        definition = _dumps(wf.definition)
        async with self.transaction() as conn:
            await conn.execute(
                "INSERT INTO workflows (id, user_id, name, description, status, definition, "
                "settings, node_count, execution_count, version, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                (
                    wf.id,
                    wf.user_id,
                    wf.name,
                    wf.description,
                    wf.status,
                    definition,
                    _dumps(wf.settings),
                    wf.node_count,
                    wf.version,
                    _ts(wf.created_at),
                    _ts(wf.updated_at),
                ),
            )
            await self._insert_revision(conn, wf, definition, None)

    async def get_workflow(self, user_id: str, workflow_id: str) -> Workflow | None:
        rows = await self._read(
            f"SELECT {_WF_SUMMARY_COLS}, definition, settings FROM workflows "
            "WHERE id = ? AND user_id = ?",
            (workflow_id, user_id),
        )
        if not rows:
            return None
        wf = _wf_summary(rows[0])
        wf.definition = json.loads(rows[0][10])
        wf.settings = json.loads(rows[0][11])
        return wf

    async def get_workflows(self, user_id: str, workflow_ids: list[str]) -> list[Workflow]:
        if not workflow_ids:
            return []
        found: list[Workflow] = []
        ids = list(dict.fromkeys(workflow_ids))
        for start in range(0, len(ids), 500):  # stay far below SQLite's variable limit
            chunk = ids[start : start + 500]
            rows = await self._read(
                f"SELECT {_WF_SUMMARY_COLS}, definition, settings FROM workflows "
                f"WHERE user_id = ? AND id IN ({', '.join('?' * len(chunk))})",
                (user_id, *chunk),
            )
            for row in rows:
                wf = _wf_summary(row)
                wf.definition = json.loads(row[10])
                wf.settings = json.loads(row[11])
                found.append(wf)
        return found

    async def execution_status_counts(self) -> dict[str, int]:
        rows = await self._read("SELECT status, COUNT(*) FROM executions GROUP BY status")
        return {status: count for status, count in rows}

    async def list_workflows(
        self, user_id: str, *, page: int, limit: int, status: str | None, search: str | None
    ) -> Page:
        where = ["user_id = ?"]
        params: list[Any] = [user_id]
        if status:
            where.append("status = ?")
            params.append(status)
        if search:
            where.append("(name LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\')")
            params += [_like(search), _like(search)]
        # The window count rides on the page query: one round trip instead of two.
        rows = await self._read(
            f"SELECT {_WF_SUMMARY_COLS}, COUNT(*) OVER () FROM workflows "
            f"WHERE {' AND '.join(where)} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (*params, limit, (page - 1) * limit),
        )
        if rows:
            total = rows[0][10]
        elif page > 1:
            total = (
                await self._read(
                    f"SELECT COUNT(*) FROM workflows WHERE {' AND '.join(where)}", params
                )
            )[0][0]
        else:
            total = 0
        return Page([_wf_summary(r) for r in rows], page, limit, total)

    async def update_workflow(
        self, wf: Workflow, expected_version: int, restored_from: int | None = None
    ) -> bool:
        definition = _dumps(wf.definition)
        async with self.transaction() as conn:
            cur = await conn.execute(
                "UPDATE workflows SET name = ?, description = ?, status = ?, definition = ?, "
                "settings = ?, node_count = ?, version = ?, updated_at = ? "
                "WHERE id = ? AND user_id = ? AND version = ?",
                (
                    wf.name,
                    wf.description,
                    wf.status,
                    definition,
                    _dumps(wf.settings),
                    wf.node_count,
                    wf.version,
                    _ts(wf.updated_at),
                    wf.id,
                    wf.user_id,
                    expected_version,
                ),
            )
            if cur.rowcount != 1:
                return False
            await self._insert_revision(conn, wf, definition, restored_from)
            return True

    async def delete_workflow(self, user_id: str, workflow_id: str) -> bool:
        changed = await self._write(
            "DELETE FROM workflows WHERE id = ? AND user_id = ?", (workflow_id, user_id)
        )
        return changed == 1

    _REV_COLS = (
        "r.workflow_id, r.version, r.name, r.description, r.status, r.definition, r.created_at, "
        "r.restored_from"
    )

    @staticmethod
    def _revision(row: Any) -> WorkflowRevision:
        return WorkflowRevision(
            workflow_id=row[0],
            version=row[1],
            name=row[2],
            description=row[3],
            status=row[4],
            definition=json.loads(row[5]),
            created_at=from_epoch(row[6]),
            restored_from=row[7],
        )

    async def list_revisions(self, user_id: str, workflow_id: str) -> list[WorkflowRevision]:
        rows = await self._read(
            f"SELECT {self._REV_COLS} FROM workflow_revisions r JOIN workflows w "
            "ON w.id = r.workflow_id WHERE r.workflow_id = ? AND w.user_id = ? "
            "ORDER BY r.version DESC",
            (workflow_id, user_id),
        )
        return [self._revision(r) for r in rows]

    async def get_revision(
        self, user_id: str, workflow_id: str, version: int
    ) -> WorkflowRevision | None:
        rows = await self._read(
            f"SELECT {self._REV_COLS} FROM workflow_revisions r JOIN workflows w "
            "ON w.id = r.workflow_id WHERE r.workflow_id = ? AND w.user_id = ? AND r.version = ?",
            (workflow_id, user_id, version),
        )
        return self._revision(rows[0]) if rows else None


def sqlite_path_from_url(db_url: str) -> str:
    """`sqlite:////abs/axon.db` (or `sqlite:///rel/axon.db`) -> the file path.

    An in-memory database is refused: the store keeps a separate reader connection,
    and tenants would lose everything on restart anyway.
    """
    prefix = "sqlite:///"
    rest = db_url[len(prefix) :] if db_url.startswith(prefix) else ""
    if not rest or rest == ":memory:":
        raise ValueError(f"unsupported db_url {db_url!r}: use sqlite:///PATH to a file")
    return rest


async def open_store(db_url: str, *, synchronous: str = "NORMAL") -> SqliteStore:
    store = SqliteStore(sqlite_path_from_url(db_url), synchronous=synchronous)
    await store.open()
    return store
