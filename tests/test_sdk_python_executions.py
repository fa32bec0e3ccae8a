"""The SDK's executions surface against a real server running real workflows: execute
(with and without wait), history and paging, logs and tailing, wait(), stop, retry, and
stream() over the real WebSocket until a terminal state; blocking and async clients.
"""

from __future__ import annotations

import asyncio
import itertools
import json

import axonos
import pytest
from axonos import (
    AsyncAxonOS,
    AxonOS,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
    WaitTimeoutError,
)

call = asyncio.to_thread


def node(node_id: str, node_type: str, **config) -> dict:
    return {"id": node_id, "type": node_type, "position": {"x": 0, "y": 0}, "config": config}


def edge(src: str, dst: str) -> dict:
    return {"from": src, "to": dst, "sourcePort": "output", "targetPort": "input"}


def chain(*nodes: dict) -> dict:
    return {
        "nodes": list(nodes),
        "connections": [edge(a["id"], b["id"]) for a, b in itertools.pairwise(nodes)],
    }


GREET = chain(
    node("start", "node_manual_trigger"),
    node("hello", "node_log", message="hello {{ input.name | default('world') }}"),
    node("shout", "node_set", values={"greeting": "HI {{ input.name | default('world') }}"}),
)
SLOW = chain(
    node("start", "node_manual_trigger"),
    node("first", "node_log", message="before the pause"),
    node("pause", "node_delay", seconds=0.6),
    node("last", "node_log", message="after the pause"),
)
STUCK = chain(node("start", "node_manual_trigger"), node("pause", "node_delay", seconds=60))
# A refused address fails the node (the server's outbound-request policy), no code needed.
FAILS = chain(
    node("start", "node_manual_trigger"),
    node("fetch", "node_http_request", url="http://169.254.169.254/latest", timeout=2),
)


@pytest.fixture(autouse=True)
def no_axon_env(monkeypatch):
    for name in ("AXON_URL", "AXON_API_KEY", "AXON_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sdk(axon_client, axon_user):
    client = AxonOS(token=axon_user.token, base_url=axon_client.api_url)
    yield client
    client.close()


async def make(sdk: AxonOS, name: str, definition: dict) -> str:
    return (await call(sdk.workflows.create, name=name, definition=definition)).id


async def test_seed_example_verbatim_runs_a_workflow(axon_client, axon_user):
    key = (await axon_user.client.post("api-keys", {"name": "seed"})).json()["key"]
    wf_id = (
        await axon_user.client.post("workflows", {"name": "seed", "definition": GREET})
    ).json()["id"]

    def seed():
        from axonos import AxonOS

        client = AxonOS(api_key=key, base_url=axon_client.api_url)
        client.workflows.list()
        execution = client.workflows.execute(wf_id)
        done = client.executions.wait(execution.id, timeout=30)
        client.close()
        return execution, done

    execution, done = await call(seed)
    assert isinstance(execution, axonos.Execution)
    assert execution.id.startswith("exec_") and execution.workflow_id == wf_id
    assert execution.status in ("queued", "running", "succeeded")
    assert done.status == "succeeded" and done.is_terminal, done.error
    stored = await axon_user.client.get(f"executions/{execution.id}")
    assert stored.json()["status"] == "succeeded"


async def test_execute_wait_history_get_and_logs(sdk, axon_user):
    wf = await make(sdk, "greet", GREET)
    ex = await call(sdk.workflows.execute, wf, input={"name": "ada"}, wait=20)
    assert ex.status == "succeeded" and ex.progress == 1.0
    assert ex.input == {"name": "ada"}
    assert ex.output == {"shout": {"output": {"greeting": "HI ada"}}}
    assert ex.finished_at >= ex.started_at and ex.duration >= 0
    assert ex.node_versions["hello"] == "node_log@1.0.0"  # a field the record declares
    assert [n.node_id for n in ex.nodes] == ["start", "hello", "shout"]
    assert all(isinstance(n, axonos.ExecutionNode) and n.status == "succeeded" for n in ex.nodes)

    got = await call(sdk.executions.get, ex.id)
    assert (got.id, got.status, got.workflow_version) == (ex.id, "succeeded", 1)

    history = await call(sdk.workflows.executions, wf)
    assert [e.id for e in history.items] == [ex.id] and history.total == 1
    listed = await call(sdk.executions.list, workflow_id=wf, status="succeeded")
    assert [e.id for e in listed.items] == [ex.id]
    assert (await call(sdk.executions.list, status="failed")).items == []

    logs = await call(sdk.executions.logs, ex.id)
    assert isinstance(logs, axonos.LogPage)
    hello = [line for line in logs if line.node_id == "hello"]
    assert [line.message for line in hello] == ["hello ada"]
    assert hello[0].level == "info" and hello[0].timestamp is not None
    assert not logs.has_more
    rest = await call(sdk.executions.logs, ex.id, after=logs.next_after)
    assert rest.logs == [] and rest.next_after == logs.next_after
    one = await call(sdk.executions.logs, ex.id, limit=1)
    assert len(one) == 1 and (one.has_more or len(logs) == 1)

    tailed = await call(lambda: list(sdk.executions.tail(ex.id, follow=False, page_size=1)))
    assert [line.id for line in tailed] == [line.id for line in logs]

    with pytest.raises(ValidationError) as info:
        await call(sdk.workflows.execute, wf, input={"name": "x"}, wait=100000)
    assert info.value.details["field"] == "wait"
    with pytest.raises(NotFoundError):
        await call(sdk.executions.get, "exec_missing")
    after = await axon_user.client.get("executions")
    assert after.json()["pagination"]["total"] == 1  # the refused run left nothing


async def test_wait_tail_follow_and_wait_timeout(sdk):
    wf = await make(sdk, "slow", SLOW)
    ex = await call(sdk.workflows.execute, wf)
    assert ex.status in ("queued", "running")
    # Following the log of a running execution: every line, then the iterator ends.
    lines = await call(lambda: list(sdk.executions.tail(ex.id)))
    assert [line.message for line in lines if line.node_id] == [
        "before the pause",
        "after the pause",
    ]
    assert "succeeded" in lines[-1].message  # the engine's own closing line
    assert [line.id for line in lines] == sorted(line.id for line in lines)
    done = await call(sdk.executions.wait, ex.id, timeout=20)
    assert done.status == "succeeded"

    stuck = await call(sdk.workflows.execute, await make(sdk, "stuck", STUCK))
    with pytest.raises(WaitTimeoutError) as info:
        await call(sdk.executions.wait, stuck.id, timeout=0.5)
    assert isinstance(info.value, TimeoutError)
    assert info.value.execution.status in ("queued", "running")
    with pytest.raises(WaitTimeoutError):
        await call(lambda: list(sdk.executions.tail(stuck.id, timeout=0.3, poll_interval=0.1)))
    stopped = await call(sdk.executions.stop, stuck.id)
    assert stopped.status == "stopped"


async def test_stop_and_conflict(sdk, axon_user):
    ex = await call(sdk.workflows.execute, await make(sdk, "stuck", STUCK))
    stopped = await call(sdk.executions.stop, ex.id)
    assert stopped.status == "stopped" and stopped.is_terminal
    with pytest.raises(ConflictError) as info:
        await call(sdk.executions.stop, ex.id)
    assert info.value.status == 409 and info.value.details["status"] == "stopped"
    stored = await axon_user.client.get(f"executions/{ex.id}")
    assert stored.json()["status"] == "stopped"


async def test_retry_a_failed_execution(sdk):
    wf = await make(sdk, "fails", FAILS)
    failed = await call(sdk.workflows.execute, wf, wait=20)
    assert failed.status == "failed" and failed.error
    fetch = next(n for n in failed.nodes if n.node_id == "fetch")
    assert fetch.status == "failed" and fetch.error

    again = await call(sdk.executions.retry, failed.id, wait=20)
    assert again.id != failed.id and again.retry_of == failed.id
    assert (again.retry_mode, again.status) == ("from_failed", "failed")
    fresh = await call(
        sdk.executions.retry, failed.id, mode="from_start", workflow_version="latest"
    )
    assert fresh.retry_mode == "from_start"
    with pytest.raises(ValidationError) as info:
        await call(sdk.executions.retry, failed.id, mode="from_node")
    assert info.value.details["field"] == "node_id"
    history = await call(sdk.workflows.executions, wf)
    assert history.total == 3


async def test_execution_paging(sdk):
    wf = await make(sdk, "greet", GREET)
    made = [(await call(sdk.workflows.execute, wf, input={"name": str(i)})).id for i in range(5)]
    first = await call(sdk.executions.list, workflow_id=wf, limit=2)
    assert (len(first.items), first.total, first.total_pages) == (2, 5, 3)
    every = await call(lambda: [e.id for e in first])
    assert sorted(every) == sorted(made)
    per_wf = await call(lambda: [e.id for e in sdk.workflows.executions(wf, limit=3)])
    assert sorted(per_wf) == sorted(made)
    for ex_id in made:
        assert (await call(sdk.executions.wait, ex_id, timeout=30)).status == "succeeded"


async def test_stream_until_terminal(sdk, axon_client, axon_user, axon_other_user):
    wf = await make(sdk, "slow", SLOW)
    ex = await call(sdk.workflows.execute, wf)
    updates = await call(lambda: list(sdk.executions.stream(ex.id, timeout=30)))
    runs = [u for u in updates if isinstance(u, axonos.ExecutionUpdate)]
    assert runs[-1].status == "succeeded" and runs[-1].progress == 1.0
    assert all(u.execution_id == ex.id and u.workflow_id == wf for u in runs)
    assert all(not u.is_terminal for u in runs[:-1])
    assert "running" in [u.status for u in runs]  # it saw the run live, not only the end
    progress = [u.progress for u in runs]
    assert progress == sorted(progress)
    assert any(isinstance(u, axonos.NodeUpdate) and u.node_id == "pause" for u in updates)

    # Already finished: the current state, once, and the stream ends.
    again = await call(lambda: list(sdk.executions.stream(ex.id, timeout=10)))
    assert [(u.type, u.status) for u in again] == [("execution_update", "succeeded")]

    # An API key serves the socket too.
    key = await call(sdk.api_keys.create, name="ws")
    keyed = AxonOS(api_key=key.key, base_url=axon_client.api_url)
    quick = await call(keyed.workflows.execute, await make(sdk, "greet", GREET))
    final = await call(lambda: list(keyed.executions.stream(quick.id, timeout=30))[-1])
    assert final.status == "succeeded"
    keyed.close()

    stuck = await call(sdk.workflows.execute, await make(sdk, "stuck", STUCK))
    with pytest.raises(WaitTimeoutError) as info:
        await call(lambda: list(sdk.executions.stream(stuck.id, timeout=0.5)))
    assert info.value.execution.status in ("queued", "running")
    await call(sdk.executions.stop, stuck.id)

    # Someone else's execution is not found, over the socket as over REST.
    bob = AxonOS(token=axon_other_user.token, base_url=axon_client.api_url)
    with pytest.raises(NotFoundError):
        await call(lambda: list(bob.executions.stream(ex.id, timeout=10)))
    bob.close()


async def test_read_only_key_cannot_run(sdk, axon_client):
    wf = await make(sdk, "greet", GREET)
    key = await call(sdk.api_keys.create, name="ro", scopes=["workflows:read"])
    reader = AxonOS(api_key=key.key, base_url=axon_client.api_url)
    with pytest.raises(PermissionDeniedError) as info:
        await call(reader.workflows.execute, wf)
    assert info.value.details["scope"] == "executions:run"
    assert (await call(reader.executions.list)).total == 0
    reader.close()


async def test_async_client_runs_waits_tails_and_streams(axon_client, axon_user):
    async with AsyncAxonOS(token=axon_user.token, base_url=axon_client.api_url) as client:
        wf = (await client.workflows.create(name="slow", definition=SLOW)).id
        ex = await client.workflows.execute(wf, input={"n": 1})
        updates = [u async for u in client.executions.stream(ex.id, timeout=30)]
        assert updates[-1].status == "succeeded" and updates[-1].is_terminal
        assert "running" in [getattr(u, "status", None) for u in updates]
        done = await client.executions.wait(ex.id, timeout=10)
        assert done.status == "succeeded"
        lines = [line async for line in client.executions.tail(ex.id)]
        assert [line.message for line in lines if line.node_id] == [
            "before the pause",
            "after the pause",
        ]
        page = await client.executions.logs(ex.id, limit=1)
        assert len(page) == 1 and page.has_more
        assert [e.id async for e in await client.executions.list(workflow_id=wf)] == [ex.id]
        assert (await client.workflows.executions(wf)).total == 1

        stuck = await client.workflows.execute(
            (await client.workflows.create(name="stuck", definition=STUCK)).id
        )
        with pytest.raises(WaitTimeoutError):
            await client.executions.wait(stuck.id, timeout=0.3)
        assert (await client.executions.stop(stuck.id)).status == "stopped"
        with pytest.raises(ConflictError):
            await client.executions.stop(stuck.id)
        retried = await client.executions.retry(stuck.id, mode="from_start")
        assert retried.retry_of == stuck.id and retried.status in ("queued", "running")
        assert (await client.executions.stop(retried.id)).status == "stopped"


async def test_jupyter_token_serves_rest_and_the_socket(axon_client, jp_auth_header):
    # Inside Jupyter the server's own token is a credential too (acting as its owner):
    # a Bearer on REST, and on the WebSocket upgrade.
    jupyter_token = jp_auth_header["Authorization"].split(None, 1)[1]
    owner = AxonOS(token=jupyter_token, base_url=axon_client.api_url)
    assert (await call(owner.auth.me)).via == "jupyter"
    ex = await call(owner.workflows.execute, await make(owner, "slow", SLOW))
    updates = await call(lambda: list(owner.executions.stream(ex.id, timeout=30)))
    assert updates[-1].status == "succeeded"
    assert any(isinstance(u, axonos.NodeUpdate) for u in updates)  # live, from the socket
    owner.close()
    async with AsyncAxonOS(token=jupyter_token, base_url=axon_client.api_url) as aowner:
        again = [u async for u in aowner.executions.stream(ex.id, timeout=10)]
        assert [u.status for u in again] == ["succeeded"]


def test_stream_protocol_never_reports_a_step_back():
    # Events sent before the REST read that the stream already reported arrive after it:
    # they are dropped, so progress and status only move forward.
    from axonos._streaming import ExecutionStream

    def event(status: str, progress: float) -> str:
        data = {"execution_id": "e", "workflow_id": "w", "status": status, "progress": progress}
        return json.dumps({"type": "execution_update", "data": data})

    protocol = ExecutionStream("e")
    assert protocol.feed(json.dumps({"type": "auth_ok", "data": {}})) == []
    assert json.loads(protocol.take_outbox()[0]) == {"type": "subscribe", "execution_id": "e"}
    protocol.feed(json.dumps({"type": "subscribed", "data": {}}))
    assert protocol.take_poll() and not protocol.take_poll()
    snapshot = axonos.Execution.from_api({"id": "e", "status": "running", "progress": 0.5})
    assert [u.progress for u in protocol.snapshot(snapshot)] == [0.5]
    assert protocol.feed(event("queued", 0.0)) == []
    assert protocol.feed(event("running", 0.25)) == []
    assert protocol.feed(event("running", 0.5)) == []  # nothing new
    assert [u.progress for u in protocol.feed(event("running", 0.75))] == [0.75]
    other = json.dumps({"type": "execution_update", "data": {"execution_id": "x"}})
    assert protocol.feed(other) == []
    assert [u.status for u in protocol.feed(event("succeeded", 1.0))] == ["succeeded"]
    assert protocol.done and protocol.feed(event("succeeded", 1.0)) == []
    with pytest.raises(NotFoundError):
        error = {"code": "NOT_FOUND", "message": "Execution not found", "details": {}}
        ExecutionStream("e").feed(json.dumps({"type": "error", "data": error}))
