"""`/axon/v1/ws` against a real server with real WebSocket clients (the `websockets` package).

Events are published on the server's own EventBus (what the engine does after each
committed state change); test_ws_executions.py drives real executions.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from axon_jupyter.auth.tokens import TokenSigner
from axon_jupyter.engine.events import EXECUTION_UPDATE, NOTIFICATION, Event


@pytest.fixture
def axon_config():
    return {
        "ws_auth_timeout": 0.5,
        "ws_queue_size": 32,
        "ws_ping_interval": 0.3,
        "ws_auth_recheck_interval": 0.2,
    }


def ws_url(client, path: str = "axon/v1/ws") -> str:
    return client.server_url.replace("http://", "ws://", 1) + "/" + path


async def recv(ws, timeout: float = 5) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def closed_with(ws, timeout: float = 5) -> tuple[int, str]:
    """Read until the server closes; return (code, reason)."""
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    rcvd = info.value.rcvd
    assert rcvd is not None, "the server must send a close frame"
    return rcvd.code, rcvd.reason


async def authed(client, token: str, **kw):
    ws = await connect(ws_url(client), **kw)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    hello = await recv(ws)
    assert hello["type"] == "auth_ok", hello
    return ws, hello


def update(user_id: str, wf: str, ex: str, status: str, progress: float) -> Event:
    data = {
        "execution_id": ex,
        "workflow_id": wf,
        "status": status,
        "progress": progress,
        "current_node": "n1",
    }
    return Event(EXECUTION_UPDATE, data, user_id=user_id, workflow_id=wf, execution_id=ex)


async def test_jwt_auth_then_owned_events_in_order(axon_client, axon_user, axon_runtime):
    ws, hello = await authed(axon_client, axon_user.token)
    assert hello["data"]["user"]["id"] == axon_user.id
    assert hello["data"]["subscriptions"] == {"workflow_ids": [], "execution_ids": []}
    for i, status in enumerate(["queued", "running", "running", "succeeded"]):
        axon_runtime.events.publish(update(axon_user.id, "wf_1", "exec_1", status, i / 3))
    got = [await recv(ws) for _ in range(4)]
    assert [m["type"] for m in got] == [EXECUTION_UPDATE] * 4
    assert [m["data"]["status"] for m in got] == ["queued", "running", "running", "succeeded"]
    assert [m["data"]["progress"] for m in got] == [0, 1 / 3, 2 / 3, 1]
    assert set(got[0]["data"]) == {
        "execution_id",
        "workflow_id",
        "status",
        "progress",
        "current_node",
    }
    await ws.close()


async def test_notification_event_shape(axon_client, axon_user, axon_runtime):
    ws, _ = await authed(axon_client, axon_user.token)
    note = {"level": "info", "message": "Workflow completed", "timestamp": "2024-01-15T10:30:00Z"}
    axon_runtime.events.publish(Event(NOTIFICATION, note, user_id=axon_user.id))
    assert await recv(ws) == {"type": "notification", "data": note}
    await ws.close()


async def test_api_key_auth(axon_client, axon_user):
    resp = await axon_user.client.post("api-keys", {"name": "ws"})
    assert resp.status == 201, resp
    ws, hello = await authed(axon_client, resp.json()["key"])
    assert hello["data"]["user"]["id"] == axon_user.id
    await ws.close()


@pytest.mark.parametrize(
    "first, code",
    [
        ({"type": "auth", "token": "not-a-token"}, 4401),
        ({"type": "auth", "token": "axon_" + "x" * 43}, 4401),
        ({"type": "auth"}, 4401),
        ({"type": "subscribe", "workflow_id": "wf_1"}, 4401),
        ("{not json", 4400),
    ],
)
async def test_bad_first_message_closes(axon_client, first, code, axon_runtime):
    ws = await connect(ws_url(axon_client))
    await ws.send(first if isinstance(first, str) else json.dumps(first))
    got, _ = await closed_with(ws)
    assert got == code
    assert axon_runtime.events.subscriber_count == 0


async def test_no_auth_in_time_closes_4408(axon_client, axon_runtime):
    ws = await connect(ws_url(axon_client))
    code, reason = await closed_with(ws, timeout=3)
    assert (code, reason) == (4408, "authentication timeout")
    assert axon_runtime.events.subscriber_count == 0


async def test_revoked_token_ends_connection(axon_client, axon_user):
    ws, _ = await authed(axon_client, axon_user.token)
    resp = await axon_user.client.post("auth/logout")
    assert resp.status in (200, 204), resp
    code, reason = await closed_with(ws, timeout=3)
    assert code == 4401 and "token_revoked" in reason


async def test_expiring_token_ends_connection_at_expiry(axon_client, axon_user, axon_runtime):
    short, _ = TokenSigner(axon_runtime.config.jwt_secret, access_ttl=1).issue_access(axon_user.id)
    ws, _ = await authed(axon_client, short)
    code, reason = await closed_with(ws, timeout=4)
    assert code == 4401 and "expired" in reason


async def test_reauth_with_fresh_token_same_user_only(axon_client, axon_user, axon_other_user):
    ws, _ = await authed(axon_client, axon_user.token)
    await ws.send(json.dumps({"type": "auth", "token": axon_other_user.token}))
    err = await recv(ws)
    assert err["type"] == "error" and err["data"]["code"] == "FORBIDDEN"
    await ws.send(json.dumps({"type": "auth", "token": axon_user.token}))
    assert (await recv(ws))["type"] == "auth_ok"
    await ws.close()


async def test_jupyter_identity_needs_no_auth_message(axon_client, axon_runtime, jp_auth_header):
    ws = await connect(ws_url(axon_client), additional_headers=jp_auth_header)
    hello = await recv(ws)
    owner = await axon_runtime.owner()
    assert hello["type"] == "auth_ok" and hello["data"]["user"]["id"] == owner.id
    axon_runtime.events.publish(update(owner.id, "wf_o", "exec_o", "running", 0.5))
    assert (await recv(ws))["data"]["execution_id"] == "exec_o"
    await ws.close()


async def test_jupyter_cookie_needs_same_origin(axon_client, axon_runtime, jp_auth_header):
    """Jupyter's origin rule for ambient credentials: a login cookie serves a page of the
    same origin; a foreign page may open the socket but must authenticate itself."""
    resp = await axon_client.request(
        "GET", f"{axon_client.base_path}/api/status", headers=jp_auth_header
    )
    assert resp.status == 200
    cookie = "; ".join(c.split(";")[0] for c in resp.headers.get_list("Set-Cookie"))
    assert "username-" in cookie
    hostport = axon_client.server_url.split("//")[1].split("/")[0]
    ws = await connect(
        ws_url(axon_client), additional_headers={"Cookie": cookie}, origin=f"http://{hostport}"
    )
    assert (await recv(ws))["data"]["user"]["id"] == (await axon_runtime.owner()).id
    await ws.close()
    foreign = await connect(
        ws_url(axon_client), additional_headers={"Cookie": cookie}, origin="http://evil.example"
    )
    code, _ = await closed_with(foreign, timeout=3)
    assert code == 4408


async def test_frames_over_64_kib_close_1009(axon_client, axon_user):
    ws, _ = await authed(axon_client, axon_user.token)
    await ws.send(json.dumps({"type": "ping", "pad": "x" * (64 * 1024)}))
    code, _ = await closed_with(ws)
    assert code == 1009


async def test_app_ping_pong_and_errors_keep_the_connection(axon_client, axon_user):
    ws, _ = await authed(axon_client, axon_user.token)
    await ws.send(json.dumps({"type": "ping"}))
    assert await recv(ws) == {"type": "pong"}
    await ws.send(json.dumps({"type": "dance"}))
    err = await recv(ws)
    assert err["type"] == "error" and err["data"]["code"] == "VALIDATION_ERROR"
    await ws.send("[1, 2")
    err = await recv(ws)
    assert err["data"]["code"] == "VALIDATION_ERROR"
    await ws.send(json.dumps({"type": "ping"}))
    assert await recv(ws) == {"type": "pong"}
    await ws.close()


async def test_subscribe_filters(axon_client, axon_user, axon_runtime):
    wf_a = (await axon_user.client.post("workflows", {"name": "a"})).json()["id"]
    wf_b = (await axon_user.client.post("workflows", {"name": "b"})).json()["id"]
    ws, _ = await authed(axon_client, axon_user.token)
    await ws.send(json.dumps({"type": "subscribe", "workflow_id": wf_a}))
    ack = await recv(ws)
    assert ack == {
        "type": "subscribed",
        "data": {"subscriptions": {"workflow_ids": [wf_a], "execution_ids": []}},
    }
    publish = axon_runtime.events.publish
    publish(update(axon_user.id, wf_b, "exec_b", "running", 0.1))
    publish(update(axon_user.id, wf_a, "exec_a", "running", 0.2))
    assert (await recv(ws))["data"]["execution_id"] == "exec_a"  # b was filtered out

    await ws.send(json.dumps({"type": "unsubscribe", "workflow_id": wf_a}))
    assert (await recv(ws))["data"]["subscriptions"]["workflow_ids"] == []
    publish(update(axon_user.id, wf_b, "exec_b", "running", 0.3))
    assert (await recv(ws))["data"]["execution_id"] == "exec_b"  # widened again

    for bad in ({"workflow_id": 5}, {}, {"workflow_id": wf_a, "execution_id": "exec_a"}):
        await ws.send(json.dumps({"type": "subscribe", **bad}))
        err = await recv(ws)
        assert err["type"] == "error" and err["data"]["code"] == "VALIDATION_ERROR", bad
    await ws.close()


async def test_subscribe_to_someone_elses_workflow_is_404(
    axon_client, axon_user, axon_other_user, axon_runtime
):
    theirs = (await axon_other_user.client.post("workflows", {"name": "b"})).json()["id"]
    ws, _ = await authed(axon_client, axon_user.token)
    for target in (theirs, "wf_doesnotexist00"):
        await ws.send(json.dumps({"type": "subscribe", "workflow_id": target}))
        err = await recv(ws)
        assert err == {
            "type": "error",
            "data": {
                "code": "NOT_FOUND",
                "message": "Workflow not found",
                "details": {"id": target},
            },
        }
    # the filter is unchanged and still delivers everything alice owns
    axon_runtime.events.publish(update(axon_user.id, "wf_x", "exec_x", "running", 0.5))
    assert (await recv(ws))["data"]["execution_id"] == "exec_x"
    await ws.close()


async def test_tenant_isolation(axon_client, axon_user, axon_other_user, axon_runtime):
    alice, _ = await authed(axon_client, axon_user.token)
    bob, _ = await authed(axon_client, axon_other_user.token)
    publish = axon_runtime.events.publish
    publish(update(axon_user.id, "wf_a", "exec_a1", "running", 0.5))
    publish(Event(NOTIFICATION, {"level": "info", "message": "alice's"}, user_id=axon_user.id))
    publish(update(axon_other_user.id, "wf_b", "exec_b1", "running", 0.5))
    assert (await recv(alice))["data"]["execution_id"] == "exec_a1"
    assert (await recv(alice))["data"]["message"] == "alice's"
    assert (await recv(bob))["data"]["execution_id"] == "exec_b1"  # nothing of alice's first
    with pytest.raises(asyncio.TimeoutError):
        await recv(bob, timeout=0.3)
    await alice.close()
    await bob.close()


async def test_slow_consumer_is_cut_off_and_others_keep_up(axon_client, axon_user, axon_runtime):
    fast, _ = await authed(axon_client, axon_user.token)
    # A client that stops reading: once the socket buffers are full the server's writes
    # back up, the bus queue (ws_queue_size=32) overflows, and the server closes the
    # socket instead of buffering more.
    slow, _ = await authed(axon_client, axon_user.token, max_queue=1)
    assert axon_runtime.events.subscriber_count == 2
    pad = "x" * 16_384
    received = 0
    total = 1500
    for i in range(total):
        axon_runtime.events.publish(
            Event(
                NOTIFICATION, {"level": "info", "message": str(i), "pad": pad}, user_id=axon_user.id
            )
        )
        while received <= i:
            msg = await recv(fast)
            assert msg["data"]["message"] == str(received)
            received += 1
    assert received == total
    for _ in range(100):
        if axon_runtime.events.subscriber_count == 1:
            break
        await asyncio.sleep(0.05)
    assert axon_runtime.events.subscriber_count == 1  # the slow one was dropped
    code, reason = await closed_with(slow, timeout=10)
    assert code == 1013 and reason.startswith("slow consumer")
    await fast.close()


def _client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode]) + (
        bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
    )
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def _server_frame(reader) -> tuple[int, bytes]:
    b1, b2 = await asyncio.wait_for(reader.readexactly(2), 5)
    n = b2 & 0x7F
    if n == 126:
        n = int.from_bytes(await reader.readexactly(2), "big")
    elif n == 127:
        n = int.from_bytes(await reader.readexactly(8), "big")
    return b1 & 0x0F, await reader.readexactly(n)


async def test_protocol_pings_and_dead_peer_is_dropped(axon_client, axon_user):
    """A raw client that authenticates but never answers pings: pinged, then dropped."""
    hostport, base = axon_client.server_url.split("//")[1].split("/", 1)
    host, port = hostport.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /{base}/axon/v1/ws HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101")
    writer.write(_client_frame(json.dumps({"type": "auth", "token": axon_user.token}).encode()))
    opcode, payload = await _server_frame(reader)
    assert opcode == 0x1 and json.loads(payload)["type"] == "auth_ok"
    seen = []
    while True:
        opcode, payload = await _server_frame(reader)
        seen.append(opcode)
        if opcode == 0x8:
            break
    writer.close()
    assert seen[0] == 0x9  # a protocol ping, unanswered ...
    assert payload[2:] == b"ping timed out"  # ... so the server hung up


async def test_shutdown_closes_1001(axon_client, axon_user, axon_runtime):
    ws, _ = await authed(axon_client, axon_user.token)
    pending = await connect(ws_url(axon_client))  # not yet authenticated
    await axon_runtime.stop()
    assert (await closed_with(ws))[0] == 1001
    assert (await closed_with(pending))[0] == 1001


async def test_jupyter_token_in_the_auth_message_acts_as_owner(
    axon_client, axon_runtime, jp_serverapp
):
    ws, hello = await authed(axon_client, jp_serverapp.identity_provider.token)
    owner = await axon_runtime.owner()
    assert hello["data"]["user"]["id"] == owner.id
    await ws.close()
