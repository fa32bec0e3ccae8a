"""Workflows built from the real built-in and custom node types, saved and executed
through REST: HTTP against a local server, templates, branching, merge, sub-workflows,
Python in workers, a custom node pinned to a version, and a notebook in a real kernel."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

DATA = Path(__file__).parent / "data"


@pytest.fixture
def axon_config():
    return {"http_allowed_hosts": ["127.0.0.1"], "notebook_root": str(DATA)}


@pytest.fixture
def api_server(jp_asyncio_loop):
    """A small JSON API on 127.0.0.1 (allowlisted above) that records what it saw."""
    seen: list[dict] = []

    class Items(web.RequestHandler):
        def get(self, name: str) -> None:
            seen.append({"path": self.request.path, "auth": self.request.headers.get("X-Token")})
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"name": name, "items": [1, 2, 3], "ok": name != "broken"}))

    async def start():
        sock, port = bind_unused_port()
        server = HTTPServer(web.Application([(r"/items/(\w+)", Items)]))
        server.add_sockets([sock])
        return server, port

    server, port = jp_asyncio_loop.run_until_complete(start())
    yield f"http://127.0.0.1:{port}", seen
    server.stop()


def n(node_id, type_, config=None, **extra):
    return {"id": node_id, "type": type_, "config": config or {}, **extra}


def c(src, dst, sp="output", tp="input"):
    return {"from": src, "to": dst, "sourcePort": sp, "targetPort": tp}


async def save(client, nodes, connections=(), name="wf") -> str:
    resp = await client.post(
        "workflows",
        {"name": name, "definition": {"nodes": nodes, "connections": list(connections)}},
    )
    assert resp.status == 201, resp
    return resp.json()["id"]


async def execute(client, workflow_id, input=None, wait=30) -> dict:
    resp = await client.post(
        f"workflows/{workflow_id}/execute", {"input": input or {}}, params={"wait": wait}
    )
    assert resp.status == 201, resp
    return resp.json()


def by_node(execution: dict) -> dict[str, dict]:
    return {node["node_id"]: node for node in execution["nodes"]}


PIPELINE = [
    n("start", "node_manual_trigger", {"defaults": {"name": "widgets"}}),
    n(
        "fetch",
        "node_http_request",
        {
            "url": "{{ inputs.input.base }}/items/{{ inputs.input.name }}",
            "headers": {"X-Token": "t-1"},
        },
    ),
    n(
        "shape",
        "node_transform",
        {
            "mapping": {
                "status": "{{ nodes.fetch.response.status }}",
                "count": "{{ inputs.input.json['items'] | length }}",
                "source.name": "{{ inputs.input.json.name }}",
                "ok": "{{ inputs.input.json.ok }}",
            }
        },
    ),
    n("check", "node_condition", {"expression": "{{ nodes.shape.output.ok }}"}),
    n("good", "node_log", {"message": "got {{ nodes.shape.output.count }} items"}),
    n("bad", "node_log", {"message": "bad response", "level": "error"}),
]
PIPELINE_LINKS = [
    c("start", "fetch"),
    c("fetch", "shape", "response"),
    c("shape", "check"),
    c("check", "good", "true"),
    c("check", "bad", "false"),
]


async def test_http_transform_condition_log_pipeline(axon_user, api_server):
    base, seen = api_server
    client = axon_user.client
    wf = await save(client, PIPELINE, PIPELINE_LINKS)

    ex = await execute(client, wf, {"base": base})
    assert ex["status"] == "succeeded", ex
    nodes = by_node(ex)
    assert nodes["fetch"]["outputs"]["response"]["status"] == 200
    assert nodes["fetch"]["outputs"]["response"]["json"]["items"] == [1, 2, 3]
    assert nodes["shape"]["outputs"]["output"] == {
        "status": 200,
        "count": 3,
        "source": {"name": "widgets"},
        "ok": True,
    }
    assert set(nodes["check"]["outputs"]) == {"true"}
    assert nodes["good"]["status"] == "succeeded" and nodes["bad"]["status"] == "skipped"
    assert ex["node_versions"]["fetch"] == "node_http_request@1.2.0"
    assert ex["node_versions"]["check"] == "node_condition@1.0.0"
    assert seen == [{"path": "/items/widgets", "auth": "t-1"}]
    logs = (await client.get(f"executions/{ex['id']}/logs")).json()["logs"]
    assert any(
        entry["node_id"] == "good" and entry["message"] == "got 3 items" for entry in logs
    ), logs
    assert any(entry["node_id"] == "fetch" and "-> 200" in entry["message"] for entry in logs)

    # The other branch: the API says ok=false.
    ex = await execute(client, wf, {"base": base, "name": "broken"})
    assert ex["status"] == "succeeded", ex
    nodes = by_node(ex)
    assert nodes["good"]["status"] == "skipped" and nodes["bad"]["status"] == "succeeded"
    logs = (await client.get(f"executions/{ex['id']}/logs")).json()["logs"]
    assert any(e["node_id"] == "bad" and e["level"] == "error" for e in logs), logs


async def test_ssrf_refusal_fails_the_node_not_the_server(axon_user, api_server):
    client = axon_user.client
    wf = await save(
        client,
        [n("fetch", "node_http_request", {"url": "{{ input.url }}"})],
    )
    for url in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.7/"):
        ex = await execute(client, wf, {"url": url})
        assert ex["status"] == "failed", ex
        error = by_node(ex)["fetch"]["error"]
        assert "http_allowed_hosts" in error["message"], error
    assert (await client.get("health")).status == 200


async def test_condition_and_merge_rejoin_branches(axon_user):
    client = axon_user.client
    wf = await save(
        client,
        [
            n("start", "node_manual_trigger"),
            n("check", "node_condition", {"expression": "{{ input.flag }}"}),
            n("on_true", "node_set", {"values": {"branch": "yes"}}),
            n("join", "node_merge", {"mode": "first"}),
        ],
        [
            c("start", "check"),
            c("check", "on_true", "true"),
            c("on_true", "join", "output", "input_1"),
            c("check", "join", "false", "input_2"),
        ],
    )
    yes = await execute(client, wf, {"flag": True})
    assert yes["status"] == "succeeded", yes
    assert by_node(yes)["join"]["outputs"] == {"output": {"branch": "yes"}}
    no = await execute(client, wf, {"flag": "no"})
    assert no["status"] == "succeeded", no
    assert by_node(no)["on_true"]["status"] == "skipped"
    assert by_node(no)["join"]["outputs"] == {"output": {"flag": "no"}}


async def test_subworkflow_runs_another_workflow_of_the_user(axon_user, axon_other_user):
    client = axon_user.client
    child = await save(
        client,
        [
            n("start", "node_manual_trigger"),
            n("double", "node_transform", {"mapping": {"doubled": "{{ input.n * 2 }}"}}),
        ],
        [c("start", "double")],
        name="child",
    )
    parent = await save(
        client,
        [
            n("start", "node_manual_trigger"),
            n("call", "node_subworkflow", {"workflow_id": child}),
        ],
        [c("start", "call")],
        name="parent",
    )
    ex = await execute(client, parent, {"n": 21})
    assert ex["status"] == "succeeded", ex
    assert ex["output"]["call"]["output"]["double"]["output"] == {"doubled": 42}

    # Bob's workflow cannot call Alice's.
    bobs = await save(
        axon_other_user.client, [n("call", "node_subworkflow", {"workflow_id": child})]
    )
    ex = await execute(axon_other_user.client, bobs)
    assert ex["status"] == "failed" and "not found" in by_node(ex)["call"]["error"]["message"]


async def test_delay_is_stopped_at_once(axon_user):
    client = axon_user.client
    wf = await save(client, [n("wait", "node_delay", {"seconds": 60})])
    resp = await client.post(f"workflows/{wf}/execute", {"input": {}})
    assert resp.status == 201
    ex_id = resp.json()["id"]
    for _ in range(100):
        if (await client.get(f"executions/{ex_id}")).json()["status"] == "running":
            break
        await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    start = loop.time()
    stop = await client.post(f"executions/{ex_id}/stop")
    assert stop.status == 200, stop
    for _ in range(100):
        body = (await client.get(f"executions/{ex_id}")).json()
        if body["status"] == "stopped":
            break
        await asyncio.sleep(0.05)
    assert body["status"] == "stopped" and loop.time() - start < 3


PY_V1 = "def run(inputs, config):\n    return {'output': inputs['input']['n'] * 2}\n"
PY_V2 = "async def run(inputs, config):\n    return {'output': inputs['input']['n'] * 3}\n"


async def test_custom_node_pinned_to_a_version_runs_in_a_worker(axon_admin):
    client = axon_admin.client
    for version, code in (("1.0.0", PY_V1), ("2.0.0", PY_V2)):
        resp = await client.post(
            "nodes", {"id": "scale", "name": "Scale", "version": version, "code": code}
        )
        assert resp.status == 201, resp
    v1_hash = (await client.get("nodes/scale", params={"version": "1.0.0"})).json()["code_hash"]
    v2_hash = (await client.get("nodes/scale")).json()["code_hash"]
    wf = await save(
        client,
        [
            n("values", "node_set", {"values": {"n": 5}}),
            n("pinned", "scale", version="1.0.0"),
            n("latest", "scale"),
        ],
        [c("values", "pinned"), c("values", "latest")],
    )
    ex = await execute(client, wf)
    assert ex["status"] == "succeeded", ex
    assert ex["output"] == {"pinned": {"output": 10}, "latest": {"output": 15}}
    assert ex["node_versions"]["pinned"] == f"scale@1.0.0#{v1_hash[:12]}"
    assert ex["node_versions"]["latest"] == f"scale@2.0.0#{v2_hash[:12]}"

    # A newer version later does not change what a pinned node runs.
    assert (
        await client.post(
            "nodes",
            {"id": "scale", "name": "Scale", "version": "3.0.0", "code": PY_V1.replace("2", "4")},
        )
    ).status == 201
    ex = await execute(client, wf)
    assert ex["output"] == {"pinned": {"output": 10}, "latest": {"output": 20}}


async def test_node_python_code_is_raw_config(axon_admin):
    code = (
        "def run(inputs, config):\n"
        "    return {'output': {'literal': '{{ not rendered }}', 'factor': config['factor']}}\n"
    )
    client = axon_admin.client
    wf = await save(
        client,
        [n("py", "node_python", {"code": code, "factor": "{{ input.k * 10 }}"})],
    )
    ex = await execute(client, wf, {"k": 4})
    assert ex["status"] == "succeeded", ex
    assert ex["output"]["py"]["output"] == {"literal": "{{ not rendered }}", "factor": 40}
    assert ex["node_versions"]["py"] == "node_python@1.0.0"


async def test_notebook_node_in_a_workflow(axon_user):
    client = axon_user.client
    wf = await save(
        client,
        [
            n("start", "node_manual_trigger"),
            n(
                "nb",
                "node_notebook",
                {"path": "parameterized.ipynb", "parameters": {"x": "{{ input.x }}"}},
            ),
        ],
        [c("start", "nb")],
    )
    ex = await execute(client, wf, {"x": 5}, wait=60)
    assert ex["status"] == "succeeded", ex
    out = ex["output"]["nb"]["output"]
    assert out["y"] == 10 and out["greeting"] == "hello default"
    assert out["input"] == {"x": 5} and out["leaked_env"] == []
    assert ex["node_versions"]["nb"] == "node_notebook@1.0.0"
