"""The executions REST API: every status code, pagination, log tailing, retry modes,
scopes and tenant isolation."""

from __future__ import annotations

import secrets

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


@pytest.fixture
def alice(axon_user, axon_runtime):
    install_test_types(axon_runtime)
    return axon_user


async def api_key(user, scopes: list[str]):
    resp = await user.client.post("api-keys", {"name": "k", "scopes": scopes})
    assert resp.status == 201, resp
    return user.client.api_key(resp.json()["key"])


async def test_execute_status_codes(alice, axon_runtime, axon_client):
    wf = await store_workflow(axon_runtime, alice.id, [n("a", "t_noop")])
    client = alice.client
    ok = await client.post(f"workflows/{wf}/execute", {"input": {"x": 1}}, params={"wait": "5"})
    assert ok.status == 201 and ok.json()["status"] == "succeeded"
    empty_body = await client.request("POST", f"{client.api_path}/workflows/{wf}/execute")
    assert empty_body.status == 201 and empty_body.json()["input"] == {}
    cases = [
        ({"input": [1]}, {}, "input"),
        ({"input": "x"}, {}, "input"),
        ({"inputs": {}}, {}, "inputs"),
        ({"input": {}}, {"wait": "soon"}, "wait"),
        ({"input": {}}, {"wait": "121"}, "wait"),
        ({"input": {}}, {"wait": "-1"}, "wait"),
        ({"input": {}}, {"wait": "nan"}, "wait"),
    ]
    for body, params, field in cases:
        resp = await client.post(f"workflows/{wf}/execute", body, params=params)
        assert resp.status == 400 and resp.error_code == "VALIDATION_ERROR", (body, params, resp)
        assert resp.json()["error"]["details"]["field"] == field
    bad_json = await client.request(
        "POST", f"workflows/{wf}/execute", body=b'{"input": {"a": NaN}}'
    )
    assert bad_json.status == 400 and bad_json.error_code == "VALIDATION_ERROR"
    # Definitions are checked at execute time too: empty, unknown type.
    empty = await store_workflow(axon_runtime, alice.id, [])
    resp = await client.post(f"workflows/{empty}/execute", {"input": {}})
    assert resp.status == 400 and resp.json()["error"]["details"]["field"] == "definition.nodes"
    unknown = await store_workflow(axon_runtime, alice.id, [n("a", "t_noop"), n("z", "no_such")])
    resp = await client.post(f"workflows/{unknown}/execute", {"input": {}})
    assert resp.status == 400 and resp.error_code == "VALIDATION_ERROR"
    assert resp.json()["error"]["details"]["node"] == "z"
    # A definition broken behind the API's back is refused structurally, naming the field.
    broken = await store_workflow(axon_runtime, alice.id, [n("a", "t_noop")])
    stored = await axon_runtime.store.get_workflow(alice.id, broken)
    stored.definition["connections"] = [e("a", "ghost")]
    stored.version = 2
    assert await axon_runtime.store.update_workflow(stored, 1)
    resp = await client.post(f"workflows/{broken}/execute", {"input": {}})
    assert resp.status == 400 and resp.error_code == "VALIDATION_ERROR"
    assert resp.json()["error"]["details"]["field"] == "definition.connections[0].to"
    anonymous = await axon_client.post(f"workflows/{wf}/execute", {"input": {}})
    assert anonymous.status == 401 and anonymous.error_code == "UNAUTHORIZED"
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    missing = await client.post("workflows/wf_missing/execute", {"input": {}})
    assert missing.status == 404 and missing.error_code == "NOT_FOUND"
    # Only the two good runs exist, and the workflow counted exactly those.
    listed = await client.get(f"workflows/{wf}/executions")
    assert listed.json()["pagination"]["total"] == 2
    assert (await client.get(f"workflows/{wf}")).json()["execution_count"] == 2


async def test_lists_filters_and_pagination(alice, axon_runtime):
    client = alice.client
    good = await store_workflow(axon_runtime, alice.id, [n("a", "t_noop")])
    bad = await store_workflow(axon_runtime, alice.id, [n("a", "t_fail")])
    ids = [(await run(client, good))["id"] for _ in range(3)]
    failed = (await run(client, bad))["id"]
    page1 = (await client.get("executions", params={"limit": 3})).json()
    assert page1["pagination"] == {"page": 1, "limit": 3, "total": 4, "total_pages": 2}
    assert [x["id"] for x in page1["executions"]] == [failed, ids[2], ids[1]]
    assert "nodes" not in page1["executions"][0]
    assert set(page1["executions"][0]) >= {
        "id",
        "workflow_id",
        "status",
        "progress",
        "current_node",
        "input",
        "output",
        "error",
        "created_at",
        "started_at",
        "finished_at",
        "duration",
    }
    page2 = (await client.get("executions", params={"limit": 3, "page": 2})).json()
    assert [x["id"] for x in page2["executions"]] == [ids[0]]
    by_status = (await client.get("executions", params={"status": "failed"})).json()
    assert [x["id"] for x in by_status["executions"]] == [failed]
    by_wf = (await client.get("executions", params={"workflow_id": good})).json()
    assert by_wf["pagination"]["total"] == 3
    nested = (await client.get(f"workflows/{bad}/executions")).json()
    assert [x["id"] for x in nested["executions"]] == [failed]
    nested = (await client.get(f"workflows/{good}/executions", params={"status": "failed"})).json()
    assert nested["executions"] == [] and nested["pagination"]["total"] == 0
    for params in ({"status": "done"}, {"limit": "0"}, {"limit": "101"}, {"page": "0"}):
        resp = await client.get("executions", params=params)
        assert resp.status == 400 and resp.error_code == "VALIDATION_ERROR", params
    resp = await client.get(f"workflows/{good}/executions", params={"status": "nope"})
    assert resp.status == 400
    resp = await client.get("workflows/wf_missing/executions")
    assert resp.status == 404 and resp.error_code == "NOT_FOUND"
    one = await client.get(f"executions/{failed}")
    assert one.status == 200 and one.json()["nodes"][0]["status"] == "failed"
    missing = await client.get("executions/exec_missing")
    assert missing.status == 404 and missing.error_code == "NOT_FOUND"


async def test_logs_tail_with_a_cursor(alice, axon_runtime):
    wf = await store_workflow(
        axon_runtime,
        alice.id,
        [
            n(f"l{i}", "t_log", message=f"line {i}", level=lvl)
            for i, lvl in enumerate(["info", "warning", "error", "debug", "warn"])
        ],
        [e(f"l{i}", f"l{i + 1}") for i in range(4)],
    )
    ex = await run(alice.client, wf)
    first = (await alice.client.get(f"executions/{ex['id']}/logs", params={"limit": 2})).json()
    assert [x["message"] for x in first["logs"]] == ["line 0", "line 1"]
    assert [x["level"] for x in first["logs"]] == ["info", "warning"]
    assert first["logs"][0]["node_id"] == "l0"
    assert set(first["logs"][0]) == {"id", "timestamp", "level", "node_id", "message"}
    assert first["logs"][0]["timestamp"].endswith("Z")
    assert first["pagination"]["has_more"] is True
    assert first["pagination"]["total"] == 6  # five lines and the outcome
    rest = await alice.client.get(
        f"executions/{ex['id']}/logs", params={"after": first["pagination"]["next_after"]}
    )
    body = rest.json()
    assert [x["message"] for x in body["logs"]][:3] == ["line 2", "line 3", "line 4"]
    assert [x["level"] for x in body["logs"]][:4] == ["error", "debug", "warning", "info"]
    assert body["logs"][-1]["node_id"] is None and "succeeded" in body["logs"][-1]["message"]
    assert body["pagination"]["has_more"] is False
    tail = await alice.client.get(
        f"executions/{ex['id']}/logs", params={"after": body["pagination"]["next_after"]}
    )
    assert tail.json()["logs"] == []
    assert tail.json()["pagination"]["next_after"] == body["pagination"]["next_after"]
    for params in ({"after": "x"}, {"after": "-1"}, {"limit": "0"}, {"limit": "1001"}):
        resp = await alice.client.get(f"executions/{ex['id']}/logs", params=params)
        assert resp.status == 400 and resp.error_code == "VALIDATION_ERROR", params
    resp = await alice.client.get("executions/exec_missing/logs")
    assert resp.status == 404


async def test_stop_status_codes(alice, axon_runtime):
    wf = await store_workflow(axon_runtime, alice.id, [n("s", "t_sleep", seconds=30)])
    resp = await alice.client.post(f"workflows/{wf}/execute", {"input": {}})
    ex_id = resp.json()["id"]
    await wait_status(alice.client, ex_id, {"running"})
    stopped = await alice.client.post(f"executions/{ex_id}/stop")
    assert stopped.status == 200 and stopped.json()["status"] == "stopped"
    assert nodes_of(stopped.json())["s"]["status"] == "stopped"
    again = await alice.client.post(f"executions/{ex_id}/stop")
    assert again.status == 409 and again.error_code == "CONFLICT"
    done = await run(alice.client, await store_workflow(axon_runtime, alice.id, [n("a", "t_noop")]))
    resp = await alice.client.post(f"executions/{done['id']}/stop")
    assert resp.status == 409 and resp.json()["error"]["details"] == {"status": "succeeded"}
    assert (await alice.client.get(f"executions/{done['id']}")).json()["status"] == "succeeded"
    resp = await alice.client.post("executions/exec_missing/stop")
    assert resp.status == 404


async def test_stop_a_queued_execution(alice, axon_runtime):
    from dataclasses import replace

    engine = axon_runtime.engine
    engine.settings = replace(engine.settings, max_executions=1)
    wf = await store_workflow(axon_runtime, alice.id, [n("s", "t_sleep", seconds=30)])
    first = (await alice.client.post(f"workflows/{wf}/execute", {"input": {}})).json()["id"]
    second = (await alice.client.post(f"workflows/{wf}/execute", {"input": {}})).json()["id"]
    resp = await alice.client.post(f"executions/{second}/stop")
    assert resp.status == 200, resp
    body = resp.json()
    assert body["status"] == "stopped" and body["started_at"] is None
    assert nodes_of(body)["s"]["status"] == "pending"
    assert (await alice.client.post(f"executions/{first}/stop")).status == 200


async def test_retry_modes(alice, axon_runtime):
    key = secrets.token_hex(4)
    wf = await store_workflow(
        axon_runtime,
        alice.id,
        [
            n("a", "t_value", value={"v": 1}),
            n("b", "t_flaky", failures=1, key=key),
            n("c", "t_noop"),
        ],
        [e("a", "b"), e("b", "c")],
    )
    client = alice.client
    source = await run(client, wf)
    assert source["status"] == "failed" and source["error"]["node_id"] == "b"
    resp = await client.post(f"executions/{source['id']}/retry", {}, params={"wait": 10})
    assert resp.status == 201, resp
    assert resp.headers["Location"].endswith(f"/executions/{resp.json()['id']}")
    retried = resp.json()
    assert retried["status"] == "succeeded"
    assert retried["retry_of"] == source["id"] and retried["retry_mode"] == "from_failed"
    assert retried["workflow_version"] == 1 and retried["input"] == source["input"]
    nodes = nodes_of(retried)
    assert nodes["a"]["reused"] is True and nodes["a"]["attempts"] == 0
    assert nodes["a"]["outputs"] == {"output": {"v": 1}}
    assert nodes["b"]["attempts"] == 1 and nodes["b"]["reused"] is False
    assert retried["output"] == {"c": {"output": {"attempt": 1}}}
    assert (await client.get(f"executions/{retried['id']}")).json() == retried
    logs = (await client.get(f"executions/{retried['id']}/logs")).json()["logs"]
    assert any("reusing outputs of 1 node(s)" in x["message"] for x in logs)

    # from_failed on a success is a conflict; from_node re-runs that node and downstream.
    resp = await client.post(f"executions/{retried['id']}/retry", {"mode": "from_failed"})
    assert resp.status == 409 and resp.error_code == "CONFLICT"
    resp = await client.post(
        f"executions/{retried['id']}/retry",
        {"mode": "from_node", "node_id": "c"},
        params={"wait": 10},
    )
    assert resp.status == 201
    nodes = nodes_of(resp.json())
    assert nodes["a"]["reused"] and nodes["b"]["reused"] and not nodes["c"]["reused"]
    assert resp.json()["retry_mode"] == "from_node"
    resp = await client.post(
        f"executions/{source['id']}/retry", {"mode": "from_start"}, params={"wait": 10}
    )
    assert resp.status == 201
    assert all(node["attempts"] == 1 for node in resp.json()["nodes"])

    # latest: a changed node and everything after it run again; the rest is reused.
    current = await axon_runtime.store.get_workflow(alice.id, wf)
    current.definition["nodes"][2]["config"] = {"changed": True}
    current.version = 2
    assert await axon_runtime.store.update_workflow(current, 1)
    resp = await client.post(
        f"executions/{retried['id']}/retry",
        {"mode": "from_node", "node_id": "b", "workflow_version": "latest"},
        params={"wait": 10},
    )
    latest = resp.json()
    assert latest["workflow_version"] == 2
    assert nodes_of(latest)["a"]["reused"] and not nodes_of(latest)["c"]["reused"]
    resp = await client.post(
        f"executions/{source['id']}/retry", {"workflow_version": "original"}, params={"wait": 10}
    )
    original = resp.json()
    assert original["workflow_version"] == 1
    stored = await axon_runtime.store.get_execution(alice.id, original["id"])
    assert stored.definition["nodes"][2]["config"] == {}
    assert stored.definition["nodes"][0]["version"] == "1.0.0"  # pinned to what ran


async def test_retry_status_codes(alice, axon_runtime):
    wf = await store_workflow(axon_runtime, alice.id, [n("a", "t_fail")])
    source = await run(alice.client, wf)
    url = f"executions/{source['id']}/retry"
    cases = [
        ({"mode": "sideways"}, "mode"),
        ({"mode": "from_node"}, "node_id"),
        ({"mode": "from_start", "node_id": "a"}, "node_id"),
        ({"mode": "from_node", "node_id": "ghost"}, "node_id"),
        ({"workflow_version": "newest"}, "workflow_version"),
        ({"moed": "from_start"}, "moed"),
        ({"node_id": 5, "mode": "from_node"}, "node_id"),
    ]
    for body, field in cases:
        resp = await alice.client.post(url, body)
        assert resp.status == 400 and resp.error_code == "VALIDATION_ERROR", (body, resp)
        assert resp.json()["error"]["details"]["field"] == field, body
    resp = await alice.client.post("executions/exec_missing/retry", {})
    assert resp.status == 404
    slow = await store_workflow(axon_runtime, alice.id, [n("s", "t_sleep", seconds=30)])
    running = (await alice.client.post(f"workflows/{slow}/execute", {"input": {}})).json()
    resp = await alice.client.post(f"executions/{running['id']}/retry", {})
    assert resp.status == 409 and resp.json()["error"]["details"]["status"] in ("queued", "running")
    listed = await alice.client.get("executions", params={"workflow_id": wf})
    assert listed.json()["pagination"]["total"] == 1  # no retry was created
    await alice.client.post(f"executions/{running['id']}/stop")


async def test_scopes(alice, axon_runtime):
    wf = await store_workflow(axon_runtime, alice.id, [n("a", "t_noop")])
    ex = await run(alice.client, wf)
    reader = await api_key(alice, ["workflows:read"])
    runner = await api_key(alice, ["executions:run"])
    for path in (
        "executions",
        f"executions/{ex['id']}",
        f"executions/{ex['id']}/logs",
        f"workflows/{wf}/executions",
    ):
        assert (await reader.get(path)).status == 200, path
        resp = await runner.get(path)
        assert resp.status == 403 and resp.error_code == "FORBIDDEN", path
        assert resp.json()["error"]["details"] == {"scope": "workflows:read"}
    for path in (f"workflows/{wf}/execute", f"executions/{ex['id']}/retry"):
        resp = await reader.post(path, {"mode": "from_start"} if "retry" in path else {})
        assert resp.status == 403 and resp.json()["error"]["details"] == {"scope": "executions:run"}
    resp = await reader.post(f"executions/{ex['id']}/stop")
    assert resp.status == 403
    resp = await runner.post(f"workflows/{wf}/execute", {"input": {}}, params={"wait": 5})
    assert resp.status == 201 and resp.json()["status"] == "succeeded"


async def test_tenants_never_see_each_others_executions(alice, axon_runtime, axon_other_user):
    bob = axon_other_user
    wf = await store_workflow(axon_runtime, alice.id, [n("a", "t_log", message="private")])
    ex = await run(alice.client, wf)
    missing = await bob.client.get("executions/exec_0000000000000000")
    for method, path, body in [
        ("GET", f"executions/{ex['id']}", None),
        ("GET", f"executions/{ex['id']}/logs", None),
        ("POST", f"executions/{ex['id']}/stop", None),
        ("POST", f"executions/{ex['id']}/retry", {"mode": "from_start"}),
        ("GET", f"workflows/{wf}/executions", None),
        ("POST", f"workflows/{wf}/execute", {"input": {}}),
    ]:
        resp = await bob.client.request(method, path, json_body=body)
        assert resp.status == 404 and resp.error_code == "NOT_FOUND", (method, path, resp)
        assert resp.json()["error"]["message"] in ("Execution not found", "Workflow not found")
    assert set(missing.json()["error"]) == {"code", "message", "details"}
    assert missing.json()["error"]["message"] == "Execution not found"
    listed = (await bob.client.get("executions")).json()
    assert listed["executions"] == [] and listed["pagination"]["total"] == 0
    # Nothing of alice's changed.
    after = (await alice.client.get(f"executions/{ex['id']}")).json()
    assert after["status"] == "succeeded"
    assert (await alice.client.get("executions")).json()["pagination"]["total"] == 1
