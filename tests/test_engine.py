"""The engine through the real server: data flow, templates, branching, retry, timeout,
fail-fast, sub-workflows, progress, queueing, and commit-before-announce events."""

from __future__ import annotations

import asyncio
import time

import pytest
from test_engine_support import (
    e,
    install_test_types,
    n,
    nodes_of,
    run,
    store_workflow,
    wait_status,
)

from axon_jupyter.engine.events import EXECUTION_UPDATE, NODE_UPDATE, NOTIFICATION


@pytest.fixture
def axon_config():
    return {"max_concurrent_executions": 2}


@pytest.fixture
def alice(axon_user, axon_runtime):
    install_test_types(axon_runtime)
    return axon_user


async def test_data_flows_along_connections_to_sink_output(alice, axon_runtime):
    wf = await store_workflow(
        axon_runtime,
        alice.id,
        [
            n("a", "t_value", value={"x": 1}),
            n("b", "t_noop"),
            n("c", "t_noop"),
            n("d", "t_value", value=2),
        ],
        [e("a", "b"), e("b", "c")],
    )
    ex = await run(alice.client, wf, {"ignored": True})
    assert ex["status"] == "succeeded", ex
    assert ex["output"] == {"c": {"output": {"x": 1}}, "d": {"output": 2}}
    assert ex["progress"] == 1.0 and ex["error"] is None and ex["current_node"] is None
    assert ex["input"] == {"ignored": True}
    assert ex["workflow_version"] == 1
    assert ex["node_versions"] == {
        "a": "t_value@1.0.0",
        "b": "t_noop@1.0.0",
        "c": "t_noop@1.0.0",
        "d": "t_value@1.0.0",
    }
    nodes = nodes_of(ex)
    assert [node["node_id"] for node in ex["nodes"]] == ["a", "b", "c", "d"]
    for node in nodes.values():
        assert node["status"] == "succeeded" and node["attempts"] == 1, node
        assert node["started_at"] and node["finished_at"] and node["duration"] >= 0
    assert nodes["b"]["outputs"] == {"output": {"x": 1}}
    assert ex["started_at"] <= ex["finished_at"] and ex["duration"] >= 0
    wf_body = (await alice.client.get(f"workflows/{wf}")).json()
    assert wf_body["execution_count"] == 1
    stored = await axon_runtime.store.get_execution(alice.id, ex["id"])
    assert stored.definition["nodes"][0]["id"] == "a"  # the frozen snapshot
    # The waited-for answer is exactly what the database holds.
    assert (await alice.client.get(f"executions/{ex['id']}")).json() == ex


async def test_templates_render_input_nodes_and_inputs(alice, axon_runtime):
    wf = await store_workflow(
        axon_runtime,
        alice.id,
        [
            n("a", "t_value", value={"k": "{{ input.n * 2 }}", "raw": "plain"}),
            n("b", "t_value", value="Hello {{ input.name }}, k={{ nodes.a.output.k }}"),
            n("c", "t_value", value="{{ inputs.input }}"),
            n("d", "t_value", value="{{ input.flag }}"),
        ],
        [e("a", "b"), e("a", "c")],
    )
    ex = await run(alice.client, wf, {"name": "Ada", "n": 21, "flag": False})
    assert ex["status"] == "succeeded", ex
    assert ex["output"]["b"] == {"output": "Hello Ada, k=42"}
    # A lone expression keeps its native type: a dict stays a dict, False stays False.
    assert ex["output"]["c"] == {"output": {"k": 42, "raw": "plain"}}
    assert ex["output"]["d"] == {"output": False}


async def test_template_errors_fail_the_node_or_the_request(alice, axon_runtime):
    wf = await store_workflow(
        axon_runtime, alice.id, [n("a", "t_value", value="{{ input.missing.deeper }}")]
    )
    ex = await run(alice.client, wf)
    assert ex["status"] == "failed"
    node = nodes_of(ex)["a"]
    assert node["error"]["code"] == "TEMPLATE_ERROR"
    assert node["error"]["field"] == "config.value"
    assert "missing" in node["error"]["message"]
    assert node["attempts"] == 1
    # A sandbox escape or a memory bomb is an error too, never a crash.
    bad = await store_workflow(
        axon_runtime,
        alice.id,
        [
            n("a", "t_value", value="{{ ''.__class__.__mro__ }}"),
        ],
    )
    ex = await run(alice.client, bad)
    assert ex["status"] == "failed" and nodes_of(ex)["a"]["error"]["code"] == "TEMPLATE_ERROR"
    bomb = await store_workflow(
        axon_runtime, alice.id, [n("a", "t_value", value="{{ 'x' * 10000000000 }}")]
    )
    ex = await run(alice.client, bomb)
    assert ex["status"] == "failed" and nodes_of(ex)["a"]["error"]["code"] == "TEMPLATE_ERROR"
    # A syntax error is caught before anything runs: 400 naming node and field.
    broken = await store_workflow(
        axon_runtime, alice.id, [n("ok", "t_noop"), n("x", "t_value", value="{{ input.a ")]
    )
    resp = await alice.client.post(f"workflows/{broken}/execute", {"input": {}})
    assert resp.status == 400 and resp.error_code == "VALIDATION_ERROR"
    details = resp.json()["error"]["details"]
    assert details["node"] == "x" and details["field"] == "config.value"
    listed = await alice.client.get("executions", params={"workflow_id": broken})
    assert listed.json()["pagination"]["total"] == 0


async def test_branch_not_taken_is_skipped_transitively_and_merge_runs(alice, axon_runtime):
    wf = await store_workflow(
        axon_runtime,
        alice.id,
        [
            n("start", "t_value", value=5),
            n("cond", "t_branch", cond="{{ nodes.start.output > 3 }}"),
            n("yes", "t_noop"),
            n("yes2", "t_noop"),
            n("no", "t_noop"),
            n("no2", "t_noop"),
            n("no_sink", "t_noop"),
            n("merge", "t_collect"),
            {"id": "off", "type": "t_noop", "disabled": True},
            n("after_off", "t_noop"),
        ],
        [
            e("start", "cond"),
            e("cond", "yes", "true"),
            e("yes", "yes2"),
            e("cond", "no", "false"),
            e("no", "no2"),
            e("no", "no_sink"),
            e("yes2", "merge", target_port="a"),
            e("no2", "merge", target_port="b"),
            e("start", "off"),
            e("off", "after_off"),
        ],
    )
    ex = await run(alice.client, wf)
    assert ex["status"] == "succeeded", ex
    status = {nid: node["status"] for nid, node in nodes_of(ex).items()}
    assert status == {
        "start": "succeeded",
        "cond": "succeeded",
        "yes": "succeeded",
        "yes2": "succeeded",
        "no": "skipped",
        "no2": "skipped",
        "no_sink": "skipped",
        "merge": "succeeded",
        "off": "skipped",
        "after_off": "skipped",
    }
    assert nodes_of(ex)["cond"]["outputs"] == {"true": 5}
    assert nodes_of(ex)["no"]["attempts"] == 0
    # Skipped sinks are not part of the output; the merge ran with what arrived.
    assert ex["output"] == {"merge": {"output": {"a": 5}}}


async def test_several_connections_into_one_port_make_a_list(alice, axon_runtime):
    wf = await store_workflow(
        axon_runtime,
        alice.id,
        [n("a", "t_value", value=1), n("b", "t_value", value=2), n("c", "t_noop")],
        [e("a", "c"), e("b", "c")],
    )
    ex = await run(alice.client, wf)
    assert ex["output"] == {"c": {"output": [1, 2]}}


async def test_retry_with_backoff_then_success_and_exhausted(alice, axon_runtime):
    ok = await store_workflow(
        axon_runtime,
        alice.id,
        [{**n("ok", "t_flaky", failures=2), "retry": {"max_attempts": 3, "backoff_s": 0.05}}],
    )
    ex = await run(alice.client, ok)
    node = nodes_of(ex)["ok"]
    assert ex["status"] == "succeeded"
    assert node["status"] == "succeeded" and node["attempts"] == 3 and node["error"] is None
    assert node["outputs"] == {"output": {"attempt": 3}}
    logs = (await alice.client.get(f"executions/{ex['id']}/logs")).json()["logs"]
    retries = [entry for entry in logs if "retrying" in entry["message"]]
    assert [(entry["node_id"], entry["level"]) for entry in retries] == [("ok", "warning")] * 2
    assert "attempt 1/3 failed: flaky failure 1" in retries[0]["message"]

    bad = await store_workflow(
        axon_runtime,
        alice.id,
        [{**n("bad", "t_flaky", failures=5), "retry": {"max_attempts": 2, "backoff_s": 0}}],
    )
    ex = await run(alice.client, bad)
    node = nodes_of(ex)["bad"]
    assert node["status"] == "failed" and node["attempts"] == 2
    assert node["error"] == {"code": "NODE_ERROR", "message": "flaky failure 2"}
    assert ex["status"] == "failed"
    assert ex["error"]["code"] == "NODE_FAILED" and ex["error"]["node_id"] == "bad"
    assert ex["error"]["message"] == "node 'bad' failed: flaky failure 2"


async def test_timeout_fails_the_node_and_fail_fast_cancels_the_rest(alice, axon_runtime):
    wf = await store_workflow(
        axon_runtime,
        alice.id,
        [
            {**n("slow", "t_sleep", seconds=30), "timeout_s": 0.2},
            n("other", "t_sleep", seconds=30),
            n("after", "t_noop"),
        ],
        [e("slow", "after")],
    )
    started = time.monotonic()
    ex = await run(alice.client, wf)
    assert time.monotonic() - started < 5
    nodes = nodes_of(ex)
    assert ex["status"] == "failed" and ex["error"]["node_id"] == "slow"
    assert nodes["slow"]["status"] == "failed"
    assert nodes["slow"]["error"]["code"] == "NODE_TIMEOUT"
    assert nodes["other"]["status"] == "stopped"
    assert nodes["other"]["error"]["code"] == "CANCELLED"
    assert nodes["after"]["status"] == "pending"
    assert ex["output"] is None and ex["current_node"] == "slow"
    assert (await alice.client.get(f"executions/{ex['id']}")).json() == ex


async def test_inline_exception_fails_only_that_execution(alice, axon_runtime):
    wf = await store_workflow(axon_runtime, alice.id, [n("x", "t_explode")])
    ex = await run(alice.client, wf)
    assert ex["status"] == "failed"
    assert nodes_of(ex)["x"]["error"] == {
        "code": "NODE_ERROR",
        "type": "ZeroDivisionError",
        "message": "ZeroDivisionError: division by zero",
    }
    health = await alice.client.get("health")
    assert health.status == 200


async def test_subworkflow_runs_to_completion_and_recursion_is_bounded(alice, axon_runtime):
    child = await store_workflow(
        axon_runtime, alice.id, [n("v", "t_value", value="{{ input.v * 10 }}")], name="child"
    )
    parent = await store_workflow(
        axon_runtime,
        alice.id,
        [n("a", "t_value", value={"v": 4}), n("sub", "t_sub", workflow_id=child)],
        [e("a", "sub")],
    )
    ex = await run(alice.client, parent)
    assert ex["status"] == "succeeded", ex
    assert ex["output"] == {"sub": {"output": {"v": {"output": 40}}}}
    children = (await alice.client.get("executions", params={"workflow_id": child})).json()
    assert children["pagination"]["total"] == 1
    assert children["executions"][0]["status"] == "succeeded"

    loop_wf = await store_workflow(axon_runtime, alice.id, [n("again", "t_sub", workflow_id="x")])
    wf = await axon_runtime.store.get_workflow(alice.id, loop_wf)
    wf.definition["nodes"][0]["config"]["workflow_id"] = loop_wf
    wf.version += 1
    assert await axon_runtime.store.update_workflow(wf, 1)
    ex = await run(alice.client, loop_wf)
    assert ex["status"] == "failed"
    assert "nested deeper than" in ex["error"]["message"]


async def test_progress_and_current_node_are_kept_current(alice, axon_runtime):
    wf = await store_workflow(
        axon_runtime,
        alice.id,
        [n("a", "t_noop"), n("b", "t_sleep", seconds=1.0), n("c", "t_noop")],
        [e("a", "b"), e("b", "c")],
    )
    resp = await alice.client.post(f"workflows/{wf}/execute", {"input": {}})
    assert resp.status == 201
    assert resp.headers["Location"].endswith(f"/axon/v1/executions/{resp.json()['id']}")
    ex_id = resp.json()["id"]
    deadline = time.monotonic() + 5
    while True:
        body = (await alice.client.get(f"executions/{ex_id}")).json()
        if body["current_node"] == "b":
            break
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.02)
    assert body["status"] == "running"
    assert 0.3 <= body["progress"] < 0.5
    assert nodes_of(body)["b"]["status"] == "running"
    assert nodes_of(body)["c"]["status"] == "pending"
    done = await wait_status(alice.client, ex_id, {"succeeded"})
    assert done["progress"] == 1.0


async def test_queued_executions_start_in_order_under_the_global_bound(alice, axon_runtime):
    assert axon_runtime.engine.settings.max_executions == 2  # from the trait
    wf = await store_workflow(axon_runtime, alice.id, [n("s", "t_sleep", seconds=0.6)])
    ids = []
    for _ in range(5):
        resp = await alice.client.post(f"workflows/{wf}/execute", {"input": {}})
        assert resp.status == 201
        assert resp.json()["status"] == "queued"
        ids.append(resp.json()["id"])
    await wait_status(alice.client, ids[1], {"running"})
    states = [(await alice.client.get(f"executions/{i}")).json()["status"] for i in ids]
    assert states == ["running", "running", "queued", "queued", "queued"]
    queued = await alice.client.get("executions", params={"status": "queued"})
    assert queued.json()["pagination"]["total"] == 3
    done = [await wait_status(alice.client, i, {"succeeded"}) for i in ids]
    starts = [d["started_at"] for d in done]
    assert starts == sorted(starts)
    # Never more than two at once: the third starts only after the first finished.
    assert done[2]["started_at"] >= done[0]["finished_at"]
    assert done[4]["started_at"] >= done[2]["finished_at"]


async def test_events_follow_commits_and_carry_the_seed_shapes(alice, axon_runtime):
    sub = axon_runtime.events.subscribe(alice.id)
    wf = await store_workflow(
        axon_runtime,
        alice.id,
        [n("a", "t_noop"), n("b", "t_log", message="hi"), n("c", "t_fail", message="nope")],
        [e("a", "b"), e("b", "c")],
    )
    resp = await alice.client.post(f"workflows/{wf}/execute", {"input": {}})
    ex_id = resp.json()["id"]
    seen: list = []
    notification = None
    while notification is None:
        event = await asyncio.wait_for(sub.get(), 10)
        seen.append(event)
        # Whatever was announced is already in the database (commit before announce).
        stored = await axon_runtime.store.get_execution(alice.id, ex_id)
        if event.type == EXECUTION_UPDATE:
            assert set(event.data) == {
                "execution_id",
                "workflow_id",
                "status",
                "progress",
                "current_node",
            }
            order = ["queued", "running", "failed"]
            assert order.index(stored.status) >= order.index(event.data["status"])
        elif event.type == NODE_UPDATE:
            row = {r.node_id: r for r in stored.nodes}[event.data["node_id"]]
            if event.data["status"] != "running":
                assert row.status == event.data["status"]
        elif event.type == NOTIFICATION:
            notification = event
    sub.close()
    assert set(notification.data) == {"level", "message", "timestamp"}
    assert notification.data["level"] == "error" and "nope" in notification.data["message"]
    statuses = [ev.data["status"] for ev in seen if ev.type == EXECUTION_UPDATE]
    assert statuses[0] == "queued" and statuses[-1] == "failed"
    assert all(ev.execution_id == ex_id and ev.workflow_id == wf for ev in seen)
    node_final = {ev.data["node_id"]: ev.data["status"] for ev in seen if ev.type == NODE_UPDATE}
    assert node_final == {"a": "succeeded", "b": "succeeded", "c": "failed"}
