"""A GraphQL subscriber that stops reading is cut off (1013), never buffered."""

from __future__ import annotations

import asyncio
import json

import pytest
from test_graphql_ws import UPDATES, session, subscribe
from test_ws import closed_with, recv

from axon_jupyter.engine.events import EXECUTION_UPDATE, Event


@pytest.fixture
def axon_config():
    return {"ws_queue_size": 16, "ws_ping_interval": 0}


async def test_slow_subscription_is_cut_off(axon_client, axon_user, axon_runtime):
    wf = (await axon_user.client.post("workflows", {"name": "w"})).json()["id"]
    fast = await session(axon_client, axon_user.token)
    slow = await session(axon_client, axon_user.token)
    for ws in (fast, slow):
        await ws.send(subscribe("u", UPDATES, {"id": wf}))
    for _ in range(100):
        if axon_runtime.events.subscriber_count == 2:
            break
        await asyncio.sleep(0.02)
    assert axon_runtime.events.subscriber_count == 2
    pad = "n" * 16_384
    for i in range(1500):
        data = {
            "execution_id": f"exec_{i}",
            "workflow_id": wf,
            "status": "running",
            "progress": 0.5,
            "current_node": pad,
        }
        axon_runtime.events.publish(
            Event(EXECUTION_UPDATE, data, user_id=axon_user.id, workflow_id=wf)
        )
        msg = await recv(fast)
        assert msg["payload"]["data"]["workflowExecution"]["executionId"] == f"exec_{i}"
    for _ in range(100):
        if axon_runtime.events.subscriber_count == 1:
            break
        await asyncio.sleep(0.05)
    assert axon_runtime.events.subscriber_count == 1
    code, reason = await closed_with(slow, timeout=15)
    assert code == 1013 and reason.startswith("slow consumer")
    await fast.send(json.dumps({"type": "ping"}))
    assert await recv(fast) == {"type": "pong"}
    await fast.close()
