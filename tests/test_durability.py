"""Durability: kill -9 recovery of a real server, the reaper's rules, two engines on one
database, shutdown release, and batched writes."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time

import httpx
import pytest
from test_engine_support import e, install_test_types, n, nodes_of, run, store_workflow

from axon_jupyter.engine.engine import Engine, EngineSettings, make_engine_id
from axon_jupyter.engine.events import EXECUTION_UPDATE, EventBus
from axon_jupyter.models import Execution, from_epoch, new_id
from axon_jupyter.store.sqlite import SqliteStore
from axon_jupyter.testing import AxonServerProcess

ADMIN = {"email": "ops@example.com", "password": "kill-nine-please"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def poll(client: httpx.Client, path: str, check, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(path).json()
        if check(body):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def test_kill_9_recovery_of_a_running_execution(tmp_path):
    data = tmp_path / "data"
    port = free_port()
    server = AxonServerProcess(
        tmp_path,
        port=port,
        token="jupyter-token-not-axon",
        args=[f"--AxonApp.data_dir={data}", "--AxonApp.execution_lease_seconds=30"],
        env={"AXON_ADMIN_EMAIL": ADMIN["email"], "AXON_ADMIN_PASSWORD": ADMIN["password"]},
    ).start()
    try:
        with httpx.Client(base_url=server.api_url + "/", timeout=10) as anon:
            token = anon.post("auth/login", json=ADMIN).json()["token"]
        client = httpx.Client(
            base_url=server.api_url + "/", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        trigger = {"id": "start", "type": "node_manual_trigger"}

        def create(name: str, delay: float, settings: dict) -> str:
            resp = client.post(
                "workflows",
                json={
                    "name": name,
                    "settings": settings,
                    "definition": {
                        "nodes": [
                            trigger,
                            {"id": "set", "type": "node_set", "config": {"values": {"k": 1}}},
                            {"id": "wait", "type": "node_delay", "config": {"seconds": delay}},
                            {"id": "end", "type": "node_set", "config": {"values": {"ok": True}}},
                        ],
                        "connections": [e("start", "set"), e("set", "wait"), e("wait", "end")],
                    },
                },
            )
            assert resp.status_code == 201, resp.text
            return resp.json()["id"]

        long_wf = create("long", 600, {})
        requeue_wf = create("requeue", 1.5, {"requeue_on_interrupt": True})
        long_ex = client.post(f"workflows/{long_wf}/execute", json={"input": {"a": 1}}).json()
        requeue_ex = client.post(f"workflows/{requeue_wf}/execute", json={"input": {}}).json()

        def waiting(body: dict) -> bool:
            return body["current_node"] == "wait" and nodes_of(body)["set"]["status"] == "succeeded"

        before = poll(client, f"executions/{long_ex['id']}", waiting)
        poll(client, f"executions/{requeue_ex['id']}", waiting)
        logs_before = client.get(f"executions/{long_ex['id']}/logs").json()["logs"]
        client.close()
        server.stop(kill=True)  # SIGKILL: no shutdown hook runs

        server.start()
        with httpx.Client(base_url=server.api_url + "/", timeout=10) as anon:
            token = anon.post("auth/login", json=ADMIN).json()["token"]
        client = httpx.Client(
            base_url=server.api_url + "/", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        # Recovered at start-up, without waiting out the 30 s lease: its engine is dead.
        after = client.get(f"executions/{long_ex['id']}").json()
        assert after["status"] == "failed", after
        assert after["error"]["code"] == "EXECUTION_INTERRUPTED"
        nodes = nodes_of(after)
        assert nodes["start"]["status"] == "succeeded"
        assert nodes["set"] == nodes_of(before)["set"]  # nothing committed was lost
        assert nodes["set"]["outputs"] == {"output": {"k": 1}}
        assert nodes["wait"]["status"] == "failed"
        assert nodes["wait"]["error"]["code"] == "EXECUTION_INTERRUPTED"
        assert nodes["end"]["status"] == "pending"
        assert after["input"] == {"a": 1} and after["started_at"] == before["started_at"]
        logs_after = client.get(f"executions/{long_ex['id']}/logs").json()["logs"]
        assert logs_after[: len(logs_before)] == logs_before
        assert logs_after[-1]["level"] == "error" and "stopped" in logs_after[-1]["message"]
        assert client.get(f"workflows/{long_wf}").json()["execution_count"] == 1
        # Terminal states never change: stopping it now is a conflict.
        assert client.post(f"executions/{long_ex['id']}/stop").status_code == 409
        # The opted-in workflow ran again from the start, once.
        done = poll(client, f"executions/{requeue_ex['id']}", lambda b: b["status"] == "succeeded")
        assert all(node["attempts"] == 1 for node in done["nodes"])
        messages = [
            x["message"] for x in client.get(f"executions/{done['id']}/logs").json()["logs"]
        ]
        assert any("re-queued" in m for m in messages)
        client.close()
    finally:
        server.stop()


def _row(user_id: str, workflow_id: str, **fields) -> Execution:
    now = time.time()
    base = {
        "id": new_id("exec"),
        "workflow_id": workflow_id,
        "user_id": user_id,
        "workflow_version": 1,
        "status": "running",
        "definition": {"nodes": [{"id": "a", "type": "t_noop", "config": {}}], "connections": []},
        "node_versions": {"a": "t_noop@1.0.0"},
        "created_at": from_epoch(now),
        "started_at": from_epoch(now),
    }
    base.update(fields)
    return Execution(**base)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def alice(axon_user, axon_runtime):
    install_test_types(axon_runtime)
    return axon_user


async def test_reaper_takes_only_what_no_live_engine_holds(alice, axon_runtime):
    store, engine = axon_runtime.store, axon_runtime.engine
    wf = await store_workflow(axon_runtime, alice.id, [n("a", "t_noop")])
    opt_in = await store_workflow(
        axon_runtime, alice.id, [n("a", "t_noop")], settings={"requeue_on_interrupt": True}
    )
    now = time.time()
    host = make_engine_id().rsplit(":", 2)[0]
    rows = {
        "expired": _row(
            alice.id, wf, engine_id="elsewhere:1:aa", lease_expires_at=from_epoch(now - 1)
        ),
        "live": _row(
            alice.id, wf, engine_id="elsewhere:2:bb", lease_expires_at=from_epoch(now + 60)
        ),
        "never": _row(alice.id, wf, status="queued", started_at=None, engine_id=None),
        "done": _row(
            alice.id,
            wf,
            status="succeeded",
            engine_id="elsewhere:3:cc",
            lease_expires_at=from_epoch(now - 100),
            finished_at=from_epoch(now),
        ),
        "dead_pid": _row(
            alice.id, wf, engine_id=f"{host}:{dead_pid()}:dd", lease_expires_at=from_epoch(now + 60)
        ),
        "requeue": _row(
            alice.id, opt_in, engine_id="elsewhere:4:ee", lease_expires_at=from_epoch(now - 1)
        ),
    }
    for row in rows.values():
        await store.create_execution(row)
    sub = axon_runtime.events.subscribe(alice.id, types={EXECUTION_UPDATE})
    await engine.reap()
    status = {
        name: (await store.get_execution(alice.id, row.id)).status for name, row in rows.items()
    }
    assert status["expired"] == status["never"] == status["dead_pid"] == "failed"
    assert status["live"] == "running"
    assert status["done"] == "succeeded"
    failed = await store.get_execution(alice.id, rows["expired"].id)
    assert failed.error["code"] == "EXECUTION_INTERRUPTED" and failed.finished_at is not None
    announced = {}
    while sub.pending():
        event = sub.get_nowait()
        announced[event.execution_id] = event.data["status"]
    assert announced[rows["expired"].id] == "failed"
    assert rows["live"].id not in announced
    # The opted-in one was claimed by this engine and ran again to the end.
    requeued = await store.get_execution(alice.id, rows["requeue"].id)
    if requeued.status != "succeeded":
        await engine.wait(requeued.id, 10)
        requeued = await store.get_execution(alice.id, rows["requeue"].id)
    assert requeued.status == "succeeded" and requeued.requeue_count == 1
    assert requeued.engine_id == engine.engine_id
    # Once only: interrupted again, it fails.
    await store._write(
        "UPDATE executions SET status = 'running', engine_id = 'elsewhere:5:ff', "
        "lease_expires_at = 0 WHERE id = ?",
        (requeued.id,),
    )
    await engine.reap()
    assert (await store.get_execution(alice.id, requeued.id)).status == "failed"


async def test_two_engines_on_one_database_never_take_live_executions(alice, axon_runtime):
    wf = await store_workflow(axon_runtime, alice.id, [n("s", "t_sleep", seconds=30)])
    resp = await alice.client.post(f"workflows/{wf}/execute", {"input": {}})
    ex_id = resp.json()["id"]
    engine = axon_runtime.engine
    while (await axon_runtime.store.get_execution(alice.id, ex_id)).status != "running":
        await asyncio.sleep(0.02)
    # A second engine (as in an embedded kernel) with its own connections to the file.
    other_store = SqliteStore(axon_runtime.store.path)
    await other_store.open()
    other = Engine(other_store, EventBus(), EngineSettings(lease_s=30))
    try:
        await other.start()  # reaps at start-up
        await other.heartbeat()
        row = await axon_runtime.store.get_execution(alice.id, ex_id)
        assert row.status == "running" and row.engine_id == engine.engine_id
        # A stop through the other engine is written to the row; the holder notices at
        # its next heartbeat and abandons its run without writing over the stop.
        local = engine.runs[ex_id]
        assert await other.stop_execution(alice.id, ex_id) is True
        await engine.heartbeat()
        await asyncio.wait_for(asyncio.shield(local.done), 5)
        await asyncio.sleep(0.1)
        assert local.abandoned and ex_id not in engine.runs
        row = await axon_runtime.store.get_execution(alice.id, ex_id)
        assert row.status == "stopped"
        assert row.error["code"] == "EXECUTION_STOPPED"
        assert {r.node_id: r.status for r in row.nodes}.get("s") in ("stopped", "running", None)
        assert await other.stop_execution(alice.id, ex_id) is False  # terminal stays terminal
    finally:
        await other.stop()
        await other_store.close()


async def test_shutdown_releases_what_the_engine_held(alice, axon_runtime):
    wf = await store_workflow(axon_runtime, alice.id, [n("s", "t_sleep", seconds=30)])
    opt_in = await store_workflow(
        axon_runtime,
        alice.id,
        [n("s", "t_sleep", seconds=30)],
        settings={"requeue_on_interrupt": True},
    )
    plain = (await alice.client.post(f"workflows/{wf}/execute", {"input": {}})).json()["id"]
    kept = (await alice.client.post(f"workflows/{opt_in}/execute", {"input": {}})).json()["id"]
    await asyncio.sleep(0.1)
    await axon_runtime.engine.stop()
    store = axon_runtime.store
    released = await store.get_execution(alice.id, plain)
    assert released.status == "failed"
    assert released.error["message"] == "the server shut down before this execution finished"
    waiting = await store.get_execution(alice.id, kept)
    assert waiting.status == "queued" and waiting.engine_id is None
    await axon_runtime.engine.start()  # a restarted engine re-queues it and runs it
    await asyncio.sleep(0.1)
    restarted = await store.get_execution(alice.id, kept)
    assert restarted.status in ("queued", "running") and restarted.requeue_count == 1
    await axon_runtime.engine.stop_execution(alice.id, kept)


async def test_node_records_and_logs_are_written_in_batches(alice, axon_runtime):
    size = 300
    wf = await store_workflow(
        axon_runtime,
        alice.id,
        [n(f"n{i}", "t_log", message=f"m{i}") for i in range(size)],
        [e(f"n{i}", f"n{i + 1}") for i in range(size - 1)],
    )
    journal = axon_runtime.engine.journal
    before = journal.flushes
    started = time.monotonic()
    ex = await run(alice.client, wf)
    elapsed = time.monotonic() - started
    assert ex["status"] == "succeeded"
    assert len(ex["nodes"]) == size and all(x["status"] == "succeeded" for x in ex["nodes"])
    logs = await alice.client.get(f"executions/{ex['id']}/logs", params={"limit": 1000})
    assert logs.json()["pagination"]["total"] == size + 1
    # 300 node records and 301 log lines, yet a transaction per flush interval (plus
    # the start and the end), not one per record: whatever the machine's speed.
    flushes = journal.flushes - before
    assert flushes <= elapsed / journal.interval + 4, (flushes, elapsed)
    assert flushes < size / 10, flushes
