"""GraphQL subscriptions over graphql-transport-ws on /axon/v1/graphql: the protocol's
messages and close codes with a raw client, then the `gql` package end to end."""

from __future__ import annotations

import asyncio
import json

import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from test_ws import closed_with, recv
from test_ws_executions import CHAIN, workflow
from websockets.asyncio.client import connect

PROTO = "graphql-transport-ws"
HEALTH = (
    "subscription { systemHealth { status version uptime runningExecutions "
    "queuedExecutions store timestamp } }"
)
UPDATES = """subscription($id: ID!) { workflowExecution(workflowId: $id) {
    executionId workflowId status progress currentNode } }"""


@pytest.fixture
def axon_config():
    return {"ws_auth_timeout": 0.5, "ws_ping_interval": 0, "health_interval": 0.2}


def request(query: str, **variables):
    req = gql(query)
    req.variable_values = variables
    return req


def gql_url(client) -> str:
    return client.server_url.replace("http://", "ws://", 1) + "/axon/v1/graphql"


async def session(client, token: str):
    ws = await connect(gql_url(client), subprotocols=[PROTO])
    assert ws.subprotocol == PROTO
    await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
    assert await recv(ws) == {"type": "connection_ack"}
    return ws


def subscribe(op_id: str, query: str, variables: dict | None = None) -> str:
    payload = {"query": query, "variables": variables or {}}
    return json.dumps({"id": op_id, "type": "subscribe", "payload": payload})


async def test_system_health_at_once_then_every_interval(axon_client, axon_user):
    ws = await session(axon_client, axon_user.token)
    await ws.send(subscribe("h", HEALTH))
    first = await recv(ws)
    assert first["id"] == "h" and first["type"] == "next"
    health = first["payload"]["data"]["systemHealth"]
    assert health["status"] == "ok" and health["store"] == "ok"
    assert health["runningExecutions"] == 0 and health["uptime"] >= 0
    second = await recv(ws, timeout=3)  # the ticker (health_interval=0.2)
    assert second["payload"]["data"]["systemHealth"]["uptime"] >= health["uptime"]
    await ws.send(json.dumps({"id": "h", "type": "complete"}))
    await ws.send(json.dumps({"type": "ping"}))
    # after complete nothing more for "h" (a late tick may already be on the wire)
    while (msg := await recv(ws)) != {"type": "pong"}:
        assert msg["id"] == "h" and msg["type"] == "next"
    await ws.close()


async def test_workflow_execution_streams_updates_to_terminal(axon_client, axon_user):
    wf = await workflow(axon_user)
    ws = await session(axon_client, axon_user.token)
    await ws.send(subscribe("u", UPDATES, {"id": wf}))
    await asyncio.sleep(0.1)  # the subscription is live before the run starts
    mutation = """mutation($id: ID!, $in: ExecuteWorkflowInput) {
        executeWorkflow(id: $id, input: $in) { id status workflowId } }"""
    await ws.send(subscribe("run", mutation, {"id": wf, "in": {"input": {"x": 1}}}))
    updates, started = [], None
    while not updates or updates[-1]["status"] != "succeeded":
        msg = await recv(ws, timeout=10)
        if msg["id"] == "run":
            if msg["type"] == "next":
                started = msg["payload"]["data"]["executeWorkflow"]
            continue
        assert msg["type"] == "next" and msg["id"] == "u", msg
        updates.append(msg["payload"]["data"]["workflowExecution"])
    assert started["status"] == "queued" and started["workflowId"] == wf
    assert {u["executionId"] for u in updates} == {started["id"]}
    assert updates[0]["status"] == "queued" and updates[-1]["progress"] == 1
    progress = [u["progress"] for u in updates]
    assert progress == sorted(progress)
    stored = (await axon_user.client.get(f"executions/{started['id']}")).json()
    assert stored["input"] == {"x": 1} and stored["status"] == "succeeded"
    await ws.close()


async def test_operation_errors_keep_the_connection(axon_client, axon_user, axon_other_user):
    theirs = await workflow(axon_other_user)
    ws = await session(axon_client, axon_user.token)
    await ws.send(subscribe("a", UPDATES, {"id": theirs}))
    err = await recv(ws)
    assert err["id"] == "a" and err["type"] == "error"
    assert err["payload"][0]["extensions"]["code"] == "NOT_FOUND"
    await ws.send(subscribe("b", "subscription { nope }"))
    err = await recv(ws)
    assert err["type"] == "error" and err["payload"][0]["extensions"]["code"] == "VALIDATION_ERROR"
    await ws.send(subscribe("c", "{ workflows { id } }"))  # queries work here too
    assert await recv(ws) == {"id": "c", "type": "next", "payload": {"data": {"workflows": []}}}
    assert await recv(ws) == {"id": "c", "type": "complete"}
    await ws.send(json.dumps({"type": "ping"}))
    assert await recv(ws) == {"type": "pong"}
    await ws.close()


@pytest.mark.parametrize(
    "messages, code",
    [
        (["{oops"], 4400),
        ([{"type": "what"}], 4400),
        ([{"id": "1", "type": "subscribe", "payload": {"query": "{ workflows { id } }"}}], 4401),
        ([{"type": "connection_init", "payload": {"token": "forged"}}], 4403),
        ([{"type": "connection_init"}], 4403),  # no credential and no Jupyter identity
        ([], 4408),
        (["INIT", "INIT"], 4429),
        (["INIT", "SUB", "SUB"], 4409),
    ],
)
async def test_close_codes(axon_client, axon_user, messages, code):
    ws = await connect(gql_url(axon_client), subprotocols=[PROTO])
    init = {"type": "connection_init", "payload": {"token": axon_user.token}}
    for message in messages:
        if message == "INIT":
            message = init
        elif message == "SUB":
            message = json.loads(subscribe("dup", HEALTH))
        await ws.send(message if isinstance(message, str) else json.dumps(message))
    got, _ = await closed_with(ws, timeout=3)
    assert got == code


async def test_subprotocol_is_required(axon_client):
    ws = await connect(gql_url(axon_client))
    assert (await closed_with(ws))[0] == 4406


async def test_http_and_upgrade_share_the_path(axon_user):
    resp = await axon_user.client.post("graphql", {"query": "{ workflows { id } }"})
    assert resp.status == 200 and resp.json() == {"data": {"workflows": []}}


async def test_gql_client_subscription_end_to_end(axon_client, axon_user):
    wf_id = (await axon_user.client.post("workflows", {"name": "gql", "definition": CHAIN})).json()[
        "id"
    ]
    transport = WebsocketsTransport(
        url=gql_url(axon_client),
        init_payload={"token": axon_user.token},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=transport) as session:
        health = await anext(aiter(session.subscribe(gql(HEALTH))))
        assert health["systemHealth"]["store"] == "ok"

        result = await session.execute(
            request("query($id: ID!) { workflow(id: $id) { id name } }", id=wf_id)
        )
        assert result == {"workflow": {"id": wf_id, "name": "gql"}}

        statuses = []

        async def follow() -> None:
            async for item in session.subscribe(request(UPDATES, id=wf_id)):
                statuses.append(item["workflowExecution"]["status"])
                if statuses[-1] == "succeeded":
                    return

        follower = asyncio.ensure_future(follow())
        await asyncio.sleep(0.2)
        run = await session.execute(
            request("mutation($id: ID!) { executeWorkflow(id: $id) { id } }", id=wf_id)
        )
        await asyncio.wait_for(follower, 10)
        assert statuses[0] == "queued" and statuses[-1] == "succeeded"
        assert run["executeWorkflow"]["id"].startswith("exec_")

        with pytest.raises(TransportQueryError) as info:
            await session.execute(gql('{ workflow(id: "wf_missing") { id } }'))
        assert info.value.errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_jupyter_identity_serves_without_a_token(axon_client, axon_runtime, jp_auth_header):
    ws = await connect(
        gql_url(axon_client), subprotocols=[PROTO], additional_headers=jp_auth_header
    )
    await ws.send(json.dumps({"type": "connection_init"}))
    assert await recv(ws) == {"type": "connection_ack"}
    await ws.send(subscribe("w", "{ workflows { id } }"))
    assert (await recv(ws))["payload"] == {"data": {"workflows": []}}
    await ws.close()


async def test_expiring_token_ends_the_session(axon_client, axon_user, axon_runtime):
    from axon_jupyter.auth.tokens import TokenSigner

    short, _ = TokenSigner(axon_runtime.config.jwt_secret, access_ttl=1).issue_access(axon_user.id)
    ws = await session(axon_client, short)
    await ws.send(subscribe("h", HEALTH))
    code, reason = await closed_with(ws, timeout=4)
    assert code == 4401 and "expired" in reason


async def test_shutdown_closes_1001(axon_client, axon_user, axon_runtime):
    ws = await session(axon_client, axon_user.token)
    await ws.send(subscribe("h", HEALTH))
    assert (await recv(ws))["type"] == "next"
    await axon_runtime.stop()
    assert (await closed_with(ws))[0] == 1001
