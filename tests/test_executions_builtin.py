"""End to end through REST with the real catalog: built-in and custom node types, as a
client would build and run them (no test-only types here)."""

from __future__ import annotations

from test_engine_support import e, nodes_of


async def create(client, definition: dict, **extra) -> str:
    resp = await client.post("workflows", {"name": "e2e", "definition": definition, **extra})
    assert resp.status == 201, resp
    return resp.json()["id"]


async def execute(client, workflow_id: str, input: dict | None = None) -> dict:
    resp = await client.post(
        f"workflows/{workflow_id}/execute", {"input": input or {}}, params={"wait": 20}
    )
    assert resp.status == 201, resp
    return resp.json()


async def version_of(client, type_id: str) -> str:
    resp = await client.get(f"nodes/{type_id}")
    assert resp.status == 200, resp
    return resp.json()["version"]


async def test_builtin_pipeline_with_branch_merge_and_python(axon_admin):
    client = axon_admin.client
    code = (
        "def run(inputs, config):\n"
        "    data = inputs['input']\n"
        "    print('got', sorted(data))\n"
        "    return {**data, 'n2': data['input_1']['user']['n'] * 2}\n"
    )
    definition = {
        "nodes": [
            {"id": "start", "type": "node_manual_trigger"},
            {
                "id": "greet",
                "type": "node_set",
                "config": {"values": {"hi": "Hello {{ input.name }}"}},
            },
            {
                "id": "check",
                "type": "node_condition",
                "config": {"expression": "{{ input.n > 2 }}"},
            },
            {
                "id": "shape",
                "type": "node_transform",
                "config": {"mapping": {"user.name": "{{ input.name }}", "user.n": "{{ input.n }}"}},
            },
            {"id": "note", "type": "node_log", "config": {"message": "small n"}},
            {"id": "join", "type": "node_merge"},
            {"id": "calc", "type": "node_python", "config": {"code": code}},
            {"id": "pause", "type": "node_delay", "config": {"seconds": 0.05}},
        ],
        "connections": [
            e("start", "greet"),
            e("greet", "check"),
            e("check", "shape", "true"),
            e("check", "note", "false"),
            e("shape", "join", target_port="input_1"),
            e("note", "join", target_port="input_2"),
            e("join", "calc"),
            e("calc", "pause"),
        ],
    }
    wf = await create(client, definition)
    ex = await execute(client, wf, {"name": "Ada", "n": 21})
    assert ex["status"] == "succeeded", ex
    status = {nid: node["status"] for nid, node in nodes_of(ex).items()}
    assert status["note"] == "skipped" and status["join"] == "succeeded"
    assert nodes_of(ex)["greet"]["outputs"] == {"output": {"hi": "Hello Ada"}}
    assert ex["output"] == {
        "pause": {"output": {"input_1": {"user": {"name": "Ada", "n": 21}}, "n2": 42}}
    }
    for node_id, type_id in (("start", "node_manual_trigger"), ("calc", "node_python")):
        assert ex["node_versions"][node_id] == f"{type_id}@{await version_of(client, type_id)}"
    logs = (await client.get(f"executions/{ex['id']}/logs")).json()["logs"]
    assert {"node_id": "calc", "level": "info", "message": "got ['input_1']"} in [
        {k: x[k] for k in ("node_id", "level", "message")} for x in logs
    ]
    # The other branch on other input: the log node runs, the transform is skipped.
    ex = await execute(client, wf, {"name": "Bo", "n": 1})
    assert nodes_of(ex)["shape"]["status"] == "skipped"
    assert nodes_of(ex)["note"]["status"] == "succeeded"
    assert ex["status"] == "failed"  # calc reads input_1, which did not arrive
    assert nodes_of(ex)["calc"]["error"]["message"] == "KeyError: 'input_1'"


async def test_builtin_subworkflow(axon_admin):
    client = axon_admin.client
    child = await create(
        client,
        {
            "nodes": [
                {"id": "in", "type": "node_manual_trigger"},
                {
                    "id": "twice",
                    "type": "node_transform",
                    "config": {"mapping": {"v": "{{ input.v * 2 }}"}},
                },
            ],
            "connections": [e("in", "twice")],
        },
    )
    parent = await create(
        client,
        {
            "nodes": [
                {
                    "id": "sub",
                    "type": "node_subworkflow",
                    "config": {"workflow_id": child, "input": {"v": "{{ input.v }}"}},
                },
            ],
            "connections": [],
        },
    )
    ex = await execute(client, parent, {"v": 5})
    assert ex["status"] == "succeeded", ex
    assert ex["output"] == {"sub": {"output": {"twice": {"output": {"v": 10}}}}}


async def test_custom_node_versions_are_recorded_with_their_code_hash(axon_admin):
    client = axon_admin.client
    for version, factor in (("1.0.0", 2), ("1.1.0", 3)):
        resp = await client.post(
            "nodes",
            {
                "id": "times",
                "name": "Times",
                "version": version,
                "code": f"def run(inputs, config):\n    return inputs['input'] * {factor}\n",
            },
        )
        assert resp.status == 201, resp
    latest = resp.json()
    definition = {
        "nodes": [
            {"id": "v", "type": "node_set", "config": {"values": {"x": 1}}},
            {"id": "t_latest", "type": "times", "config": {}},
            {"id": "t_pinned", "type": "times", "version": "1.0.0", "config": {}},
        ],
        "connections": [e("v", "t_latest"), e("v", "t_pinned")],
    }
    wf = await create(client, definition)
    ex = await execute(client, wf)
    assert ex["status"] == "failed"  # a dict times an int: a TypeError, in the worker
    failed = nodes_of(ex)[ex["error"]["node_id"]]
    assert failed["error"]["code"] == "CODE_ERROR" and "TypeError" in failed["error"]["message"]
    definition["nodes"][0] = {
        "id": "v",
        "type": "node_python",
        "config": {"code": "def run(i, c):\n    return 7\n"},
    }
    resp = await client.put(f"workflows/{wf}", {"definition": definition})
    assert resp.status == 200, resp
    ex = await execute(client, wf)
    assert ex["status"] == "succeeded", ex
    assert ex["output"] == {"t_latest": {"output": 21}, "t_pinned": {"output": 14}}
    assert ex["workflow_version"] == 2
    assert ex["node_versions"]["t_latest"] == f"times@1.1.0#{latest['code_hash'][:12]}"
    assert ex["node_versions"]["t_pinned"].startswith("times@1.0.0#")


async def test_catalog_checks_the_definition_at_execute_time(axon_admin, axon_runtime):
    client = axon_admin.client
    wf = await create(
        client,
        {"nodes": [{"id": "d", "type": "node_delay", "config": {"seconds": 1}}], "connections": []},
    )
    # A definition stored before a rule changed (here: written behind the API's back).
    stored = await axon_runtime.store.get_workflow(axon_admin.id, wf)
    stored.definition["nodes"][0]["config"] = {"seconds": "soon", "extra": 1}
    stored.version = 2
    assert await axon_runtime.store.update_workflow(stored, 1)
    resp = await client.post(f"workflows/{wf}/execute", {"input": {}})
    assert resp.status == 400 and resp.error_code == "VALIDATION_ERROR"
    assert resp.json()["error"]["details"]["node"] == "d"
    assert (await client.get("executions")).json()["pagination"]["total"] == 0


async def test_member_runs_builtins_but_not_python_code_by_default(axon_user):
    client = axon_user.client
    wf = await create(
        client,
        {"nodes": [{"id": "s", "type": "node_set", "config": {"values": {}}}], "connections": []},
    )
    assert (await execute(client, wf))["status"] == "succeeded"
    code_node = {
        "id": "p",
        "type": "node_python",
        "config": {"code": "def run(i, c):\n    return 1\n"},
    }
    resp = await client.put(
        f"workflows/{wf}", {"definition": {"nodes": [code_node], "connections": []}}
    )
    assert resp.status == 200, resp
    resp = await client.post(f"workflows/{wf}/execute", {"input": {}})
    assert resp.status == 403 and resp.error_code == "FORBIDDEN"
    assert resp.json()["error"]["details"] == {"policy": "owner", "node": "p"}
    assert (await client.get(f"workflows/{wf}/executions")).json()["pagination"]["total"] == 1
