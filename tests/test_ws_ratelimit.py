"""WebSocket messages and GraphQL-over-WebSocket operations count against the same
per-user budget as REST requests (runtime.limiter)."""

from __future__ import annotations

import json

import pytest
from test_graphql_ws import session, subscribe
from test_ws import authed, recv


@pytest.fixture
def axon_config():
    return {"rate_limit_plans": {"standard": 3}, "ws_ping_interval": 0}


async def test_ws_messages_share_the_users_budget(axon_client, axon_user):
    ws, _ = await authed(axon_client, axon_user.token)
    answers = []
    for _ in range(5):
        await ws.send(json.dumps({"type": "ping"}))
        answers.append(await recv(ws))
    assert {"type": "pong"} in answers
    limited = [a for a in answers if a["type"] == "error"]
    assert limited and all(a["data"]["code"] == "RATE_LIMITED" for a in limited)
    assert limited[0]["data"]["details"]["limit"] == 3
    assert limited[0]["data"]["details"]["retry_after"] >= 1
    # the budget is the user's: REST is refused too, and the socket stays open
    resp = await axon_user.client.get("workflows")
    assert resp.status == 429 and resp.error_code == "RATE_LIMITED"
    await ws.send(json.dumps({"type": "ping"}))
    assert (await recv(ws))["data"]["code"] == "RATE_LIMITED"
    await ws.close()


async def test_graphql_ws_operations_are_counted(axon_client, axon_user):
    ws = await session(axon_client, axon_user.token)
    codes = []
    for i in range(5):
        await ws.send(subscribe(str(i), "{ workflows { id } }"))
        msg = await recv(ws)
        if msg["type"] == "next":
            assert await recv(ws) == {"id": str(i), "type": "complete"}
            codes.append("OK")
        else:
            assert msg["type"] == "error" and msg["id"] == str(i)
            codes.append(msg["payload"][0]["extensions"]["code"])
    assert codes[0] == "OK" and codes[-1] == "RATE_LIMITED"
    await ws.close()
