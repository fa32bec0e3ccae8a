"""The SQLite store: migrations, pragmas, and how a full or locked database answers."""

import sqlite3

import pytest

from axon_jupyter.store.migrations import load_migrations
from axon_jupyter.store.sqlite import SqliteStore, sqlite_path_from_url


async def test_fresh_and_upgraded_databases_end_identical(tmp_path):
    fresh = SqliteStore(tmp_path / "fresh.db")
    await fresh.open()
    newest = len(load_migrations())
    upgraded = SqliteStore(tmp_path / "old.db")
    await upgraded.open(migrate_to=1)  # a database made by the first release
    await upgraded.close()
    await upgraded.open()  # ...opened by this one
    try:
        assert await fresh.schema() == await upgraded.schema()
        for store in (fresh, upgraded):
            rows = await store._read("PRAGMA user_version")
            assert rows[0][0] == newest
    finally:
        await fresh.close()
        await upgraded.close()


async def test_pragmas(tmp_path):
    store = SqliteStore(tmp_path / "p.db")
    await store.open()
    try:
        assert (await store._read("PRAGMA journal_mode"))[0][0] == "wal"
        assert (await store._read("PRAGMA foreign_keys"))[0][0] == 1
        plans = await store._read(
            "EXPLAIN QUERY PLAN SELECT id FROM workflows WHERE user_id = ? AND status = ? "
            "ORDER BY created_at DESC, id DESC LIMIT 10",
            ("u", "active"),
        )
        assert any("workflows_user_status" in row[3] for row in plans)
    finally:
        await store.close()


async def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 999")
    store = SqliteStore(path)
    with pytest.raises(RuntimeError, match="newer"):
        await store.open()
    await store.close()


def test_db_url_parsing():
    assert sqlite_path_from_url("sqlite:////abs/axon.db") == "/abs/axon.db"
    assert sqlite_path_from_url("sqlite:///rel/axon.db") == "rel/axon.db"
    for bad in ("postgres://x", "sqlite://", "sqlite:///:memory:"):
        with pytest.raises(ValueError):
            sqlite_path_from_url(bad)


@pytest.fixture
def axon_config():
    return {"sqlite_busy_timeout_ms": 150}


async def test_locked_database_answers_503_and_changes_nothing(axon_user, axon_runtime):
    blocker = sqlite3.connect(axon_runtime.store.path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        resp = await axon_user.client.post("workflows", {"name": "blocked"})
        assert resp.status == 503
        assert resp.error_code == "UNAVAILABLE"
        assert resp.json()["error"]["details"]["reason"] == "database_locked"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    listed = (await axon_user.client.get("workflows")).json()
    assert listed["pagination"]["total"] == 0
    assert (await axon_user.client.post("workflows", {"name": "after"})).status == 201


async def test_full_database_answers_503(axon_user, axon_runtime):
    writer = axon_runtime.store._writer
    pages = (await writer.execute_fetchall("PRAGMA page_count"))[0][0]
    await writer.execute(f"PRAGMA max_page_count = {pages}")
    try:
        resp = await axon_user.client.post("workflows", {"name": "big", "description": "x" * 9000})
        assert resp.status == 503 and resp.error_code == "UNAVAILABLE"
        assert "full" in resp.json()["error"]["details"]["reason"]
    finally:
        await writer.execute("PRAGMA max_page_count = 1073741823")
    assert (await axon_user.client.get("workflows")).json()["pagination"]["total"] == 0


async def test_uncaught_error_is_500_with_request_id_and_no_traceback(axon_user, axon_runtime):
    reader = axon_runtime.store._reader
    await reader.close()  # a broken dependency: the handler meets an unexpected error
    try:
        resp = await axon_user.client.get("workflows")
        assert resp.status == 500
        assert resp.error_code == "INTERNAL_ERROR"
        request_id = resp.headers["X-Request-Id"]
        assert resp.json()["error"]["details"]["request_id"] == request_id
        assert b"Traceback" not in resp.body and b"File " not in resp.body
    finally:
        axon_runtime.store._reader = await axon_runtime.store._connect(read_only=True)
    assert (await axon_user.client.get("workflows")).status == 200
