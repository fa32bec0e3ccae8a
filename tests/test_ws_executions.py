"""`/axon/v1/ws` fed by real executions: the engine commits, then publishes; the socket
delivers execution_update, node_update and notification events in order."""

from __future__ import annotations

import asyncio
import json

import pytest
from test_ws import authed, recv, ws_url
from websockets.asyncio.client import connect

CHAIN = {
    "nodes": [
        {"id": "start", "type": "node_manual_trigger", "position": {"x": 0, "y": 0}},
        {"id": "wait", "type": "node_delay", "config": {"seconds": 0.05}},
        {"id": "done", "type": "node_set", "config": {"values": {"ok": True}}},
    ],
    "connections": [
        {"from": "start", "to": "wait", "sourcePort": "output", "targetPort": "input"},
        {"from": "wait", "to": "done", "sourcePort": "output", "targetPort": "input"},
    ],
}


@pytest.fixture
def axon_config():
    return {"ws_auth_timeout": 2, "ws_ping_interval": 0}


async def workflow(user, name: str = "chain") -> str:
    resp = await user.client.post("workflows", {"name": name, "definition": CHAIN})
    assert resp.status == 201, resp
    return resp.json()["id"]


async def until_terminal(ws, execution_id: str) -> list[dict]:
    """Every message up to and including this execution's notification."""
    got = []
    while True:
        msg = await recv(ws, timeout=10)
        got.append(msg)
        if msg["type"] == "notification" and "completed" in msg["data"]["message"]:
            return got


async def test_execution_events_in_order_with_progress_to_one(axon_client, axon_user):
    wf = await workflow(axon_user)
    ws, _ = await authed(axon_client, axon_user.token)
    resp = await axon_user.client.post(f"workflows/{wf}/execute", {"input": {"n": 1}})
    assert resp.status == 201, resp
    ex = resp.json()["id"]
    got = await until_terminal(ws, ex)
    updates = [m["data"] for m in got if m["type"] == "execution_update"]
    assert all(u["execution_id"] == ex and u["workflow_id"] == wf for u in updates)
    statuses = [u["status"] for u in updates]
    assert statuses[0] == "queued" and statuses[-1] == "succeeded"
    assert "running" in statuses
    order = {"queued": 0, "running": 1, "succeeded": 2}
    assert [order[s] for s in statuses] == sorted(order[s] for s in statuses)
    progress = [u["progress"] for u in updates]
    assert progress == sorted(progress) and progress[0] == 0 and progress[-1] == 1
    nodes = [m["data"] for m in got if m["type"] == "node_update"]
    finished = [n["node_id"] for n in nodes if n["status"] == "succeeded"]
    assert finished == ["start", "wait", "done"]
    note = got[-1]["data"]
    assert note["level"] == "info" and set(note) == {"level", "message", "timestamp"}
    # what the socket said is what the store holds
    final = (await axon_user.client.get(f"executions/{ex}")).json()
    assert final["status"] == "succeeded" and final["progress"] == 1
    await ws.close()


async def test_subscribe_to_one_execution(axon_client, axon_user, axon_other_user):
    wf = await workflow(axon_user)
    first = (await axon_user.client.post(f"workflows/{wf}/execute?wait=10", {})).json()
    assert first["status"] == "succeeded"
    ws, _ = await authed(axon_client, axon_user.token)
    theirs_wf = await workflow(axon_other_user)
    theirs = (await axon_other_user.client.post(f"workflows/{theirs_wf}/execute", {})).json()
    await ws.send(json.dumps({"type": "subscribe", "execution_id": theirs["id"]}))
    err = await recv(ws)
    assert err["type"] == "error" and err["data"]["code"] == "NOT_FOUND"

    await ws.send(json.dumps({"type": "subscribe", "execution_id": first["id"]}))
    assert (await recv(ws))["data"]["subscriptions"]["execution_ids"] == [first["id"]]
    second = (await axon_user.client.post(f"workflows/{wf}/execute?wait=10", {})).json()
    assert second["status"] == "succeeded"
    # nothing of the second execution arrives: the filter names only the first
    await ws.send(json.dumps({"type": "ping"}))
    assert await recv(ws) == {"type": "pong"}
    await ws.close()


async def test_other_users_executions_are_never_seen(axon_client, axon_user, axon_other_user):
    bob, _ = await authed(axon_client, axon_other_user.token)
    wf = await workflow(axon_user)
    done = (await axon_user.client.post(f"workflows/{wf}/execute?wait=10", {})).json()
    assert done["status"] == "succeeded"
    with pytest.raises(asyncio.TimeoutError):
        await recv(bob, timeout=0.3)
    await bob.close()


async def test_jupyter_session_sees_the_owners_executions(axon_jupyter_client, jp_auth_header):
    resp = await axon_jupyter_client.post("workflows", {"name": "mine", "definition": CHAIN})
    wf = resp.json()["id"]
    ws = await connect(ws_url(axon_jupyter_client), additional_headers=jp_auth_header)
    assert (await recv(ws))["type"] == "auth_ok"
    ex = (await axon_jupyter_client.post(f"workflows/{wf}/execute", {})).json()["id"]
    got = await until_terminal(ws, ex)
    assert got[0]["type"] == "execution_update" and got[0]["data"]["execution_id"] == ex
    await ws.close()
