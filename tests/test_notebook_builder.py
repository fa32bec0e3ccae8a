"""The Python workflow builder, YAML definitions, the DAG drawing and node code generation.

The first tests are pure (no server); the last ones save and register through the SDK
against the real test server, whose event loop is this test's, so blocking SDK calls
run in a thread.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from axonos import AxonOS

from axon_jupyter.notebook import axon
from axon_jupyter.notebook.builder import (
    Workflow,
    fetch_catalog,
    normalize_definition,
    parse_definition_text,
    save_definition,
)
from axon_jupyter.notebook.connection import connection_for
from axon_jupyter.notebook.decorators import node_code, register
from axon_jupyter.notebook.errors import AxonNotebookError, WorkflowInvalid
from axon_jupyter.notebook.widgets.dag import layers, layout, render_svg

call = asyncio.to_thread

ETL_YAML = """
description: fetch and shout
nodes:
  - id: start
    type: node_manual_trigger
  - id: fetch
    type: node_http_request
    config:
      url: http://127.0.0.1:9/data.json
      method: GET
  - id: check
    type: node_condition
    config: {expression: "{{ nodes.fetch.response.status == 200 }}"}
  - id: done
    type: node_log
    config: {message: ok}
connections:
  - start -> fetch
  - fetch -> check
  - check.true -> done
"""


def build_etl() -> Workflow:
    wf = Workflow("etl", "fetch and shout")
    start = wf.add("node_manual_trigger", "start")
    fetch = wf.add("node_http_request", "fetch", url="http://127.0.0.1:9/data.json", method="GET")
    check = wf.add("node_condition", "check", expression="{{ nodes.fetch.response.status == 200 }}")
    start >> fetch >> check
    check["true"] >> wf.add("node_log", "done", message="ok")
    return wf


def test_builder_and_yaml_give_the_same_definition_json():
    from_python = build_etl().definition()
    from_yaml = Workflow.from_yaml("etl", ETL_YAML)
    assert from_yaml.description == "fetch and shout"
    assert json.dumps(from_python, sort_keys=True) == json.dumps(
        from_yaml.definition(), sort_keys=True
    )
    # The JSON form of the same cell reads the same too.
    as_json = json.dumps({"nodes": from_python["nodes"], "connections": from_python["connections"]})
    assert Workflow.from_yaml("etl", as_json).definition() == from_python
    # Canonical shape: ports spelled out, positions from the layout, field order.
    assert from_python["connections"][2] == {
        "from": "check",
        "to": "done",
        "sourcePort": "true",
        "targetPort": "input",
    }
    assert list(from_python["nodes"][1]) == ["id", "type", "position", "config"]
    xs = [n["position"]["x"] for n in from_python["nodes"]]
    assert xs == sorted(xs) and len(set(xs)) == 4  # a chain: one node per layer


def test_builder_shapes_fan_out_fan_in_and_auto_ids():
    wf = Workflow("fan")
    start = wf.add("node_manual_trigger")
    a, b = wf.add("node_set", values={"a": 1}), wf.add("node_set", values={"b": 2})
    merge = wf.add("node_merge", mode="object")
    start >> [a, b]
    a >> merge["input_1"]
    b >> merge["input_2"]
    definition = wf.definition()
    assert [n["id"] for n in definition["nodes"]] == ["manual_trigger", "set", "set_2", "merge"]
    assert [(c["from"], c["to"], c["targetPort"]) for c in definition["connections"]] == [
        ("manual_trigger", "set", "input"),
        ("manual_trigger", "set_2", "input"),
        ("set", "merge", "input_1"),
        ("set_2", "merge", "input_2"),
    ]
    assert layers(definition) == [["manual_trigger"], ["set", "set_2"], ["merge"]]
    with pytest.raises(AxonNotebookError, match="already used"):
        wf.add("node_set", "set")
    with pytest.raises(AxonNotebookError, match="no node 'nope'"):
        wf.connect("set", "nope")
    assert wf.to_yaml().startswith("nodes:")
    assert "<svg" in wf._repr_html_()


def test_definition_text_errors_are_readable():
    with pytest.raises(WorkflowInvalid, match=r"not valid YAML: .* \(line 2\)"):
        parse_definition_text("nodes:\n  - id: [unclosed\n")
    with pytest.raises(WorkflowInvalid, match="not valid JSON"):
        parse_definition_text('{"nodes": [}')
    with pytest.raises(WorkflowInvalid, match="cell is empty"):
        parse_definition_text("   ")
    with pytest.raises(WorkflowInvalid, match=r"nodes\[0\] needs an id and a type"):
        normalize_definition({"nodes": [{"id": "x"}]})
    with pytest.raises(WorkflowInvalid, match="is not a connection"):
        normalize_definition({"nodes": [], "connections": ["a => b"]})
    # The YAML mapping shorthand for nodes.
    d = normalize_definition(
        {"nodes": {"a": {"type": "node_set"}, "b": "node_log"}, "connections": ["a -> b"]}
    )
    assert [(n["id"], n["type"]) for n in d["nodes"]] == [("a", "node_set"), ("b", "node_log")]


def test_dag_svg_colours_states_and_survives_cycles():
    definition = build_etl().definition()
    svg = render_svg(definition, {"start": "succeeded", "fetch": "running"}, current="fetch")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert re.search(r'data-node="start" data-state="succeeded".*?fill="#dcfce7"', svg)
    assert re.search(r'data-node="fetch" data-state="running".*?stroke-width="3"', svg)
    assert 'data-node="done" data-state="pending"' in svg
    assert svg.count('class="axon-edge"') == 3
    assert ">true</text>" in svg  # the non-default source port is labelled
    # Escaping: ids are data, never markup.
    evil = {"nodes": [{"id": "<b>x</b>", "type": "t"}], "connections": []}
    assert "<b>x</b>" not in render_svg(evil)
    cyclic = {
        "nodes": [{"id": i, "type": "t"} for i in "abc"],
        "connections": [
            {"from": "a", "to": "b"},
            {"from": "b", "to": "c"},
            {"from": "c", "to": "b"},
        ],
    }
    boxes = layout(cyclic)
    assert set(boxes) == {"a", "b", "c"}
    assert render_svg(cyclic).count('class="axon-edge"') == 3
    assert "(no nodes yet)" in render_svg({"nodes": [], "connections": []})


def test_node_code_from_signatures():
    plain = node_code("def run(inputs, config):\n    return inputs\n")
    assert plain.code.startswith("def run(inputs, config)") and plain.inputs is None

    typed = node_code(
        '@axon.node(version="2")\n'
        "def shout(text: str, times: int = 1, config=None) -> str:\n"
        '    """Upper-case text.\n\n    More."""\n'
        "    return text.upper() * times\n",
        function="shout",
    )
    assert "@axon" not in typed.code
    assert typed.description == "Upper-case text."
    assert typed.inputs == [
        {"name": "text", "type": "string", "required": True},
        {"name": "times", "type": "integer", "required": False},
    ]
    assert typed.outputs == [{"name": "output", "type": "string"}]
    namespace: dict = {}
    exec(compile(typed.code, "<node>", "exec"), namespace)  # the server runs it the same way
    assert namespace["run"]({"text": "hi", "times": 2}, {"x": 1}) == {"output": "HIHI"}

    asynchronous = node_code("async def fetch(url):\n    return url\n")
    assert "async def run(inputs, config)" in asynchronous.code
    ns: dict = {}
    exec(compile(asynchronous.code, "<node>", "exec"), ns)
    assert asyncio.run(ns["run"]({"url": "u"}, {})) == {"output": "u"}

    with pytest.raises(AxonNotebookError, match="syntax error at line 1"):
        node_code("def run(inputs, config)\n")
    with pytest.raises(AxonNotebookError, match="define the node's function"):
        node_code("x = 1\n", function="shout")


# ---------------------------------------------------------------- against the server
@pytest.fixture
def owner_connection(axon_client, jp_auth_header, jp_asyncio_loop):
    """A notebook connection made the way a kernel under Jupyter makes it: the Jupyter
    token exchanged for an API key of the owner's account."""
    token = jp_auth_header["Authorization"].split(" ", 1)[1]
    connection = jp_asyncio_loop.run_until_complete(
        call(connection_for, axon_client.api_url, token=token, source="jupyter", detail="test")
    )
    yield connection
    jp_asyncio_loop.run_until_complete(call(connection.close))


async def test_builder_and_yaml_save_the_same_workflow(owner_connection, axon_jupyter_client):
    client = owner_connection.client
    catalog = await call(fetch_catalog, client)
    python_def = build_etl().definition(catalog)
    yaml_def = Workflow.from_yaml("etl", ETL_YAML).definition(catalog)
    assert python_def == yaml_def
    # node_http_request's single output is `response`: the catalog fills it in.
    assert python_def["connections"][1]["sourcePort"] == "response"

    wf = build_etl()
    wf._connection = owner_connection
    saved = await call(wf.save)
    again = await call(save_definition, client, "etl", yaml_def, description="fetch and shout")
    assert again.id == saved.id and again.version == saved.version + 1  # same name: update
    resp = await axon_jupyter_client.get(f"workflows/{saved.id}")
    assert resp.status == 200
    assert resp.json()["definition"] == python_def
    listed = await axon_jupyter_client.get("workflows", params={"search": "etl"})
    assert [w["name"] for w in listed.json()["workflows"]] == ["etl"]


async def test_invalid_definition_names_node_and_field(owner_connection, axon_jupyter_client):
    wf = Workflow("broken", connection=owner_connection)
    wf.add("node_manual_trigger", "start") >> wf.add("node_delay", "pause", seconds="soon")
    with pytest.raises(WorkflowInvalid) as caught:
        await call(wf.save)
    text = str(caught.value)
    assert "workflow 'broken' is invalid" in text
    assert "node 'pause' (node_delay)" in text and "config.seconds" in text
    assert caught.value.details["node"] == "pause"
    # IPython prints just the message for it, not a traceback.
    assert caught.value._render_traceback_()[0].endswith(text)
    resp = await axon_jupyter_client.get("workflows", params={"search": "broken"})
    assert resp.json()["workflows"] == []  # nothing was saved


async def test_register_node_versions_and_reruns(owner_connection, axon_jupyter_client):
    v1 = node_code("def shout(text: str) -> str:\n    return text.upper()\n")
    node, created = await call(register, v1, id="shout", connection=owner_connection)
    assert created and node.version == "1.0.0"
    assert [p.name for p in node.inputs] == ["text"] and node.inputs[0].required
    # The same code again (a notebook re-run): unchanged, no error.
    same, created = await call(register, v1, id="shout", connection=owner_connection)
    assert not created and same.version == "1.0.0"
    # Other code under the same version: a readable refusal.
    v2 = node_code("def shout(text: str) -> str:\n    return text.upper() + '!'\n")
    with pytest.raises(AxonNotebookError, match="already registered with different code"):
        await call(register, v2, id="shout", connection=owner_connection)
    newer, created = await call(
        register, v2, id="shout", version="1.1.0", connection=owner_connection
    )
    assert created and newer.version == "1.1.0"
    resp = await axon_jupyter_client.get("nodes/shout/versions")
    assert resp.status == 200
    assert sorted(v["version"] for v in resp.json()["versions"]) == ["1.0.0", "1.1.0"]


async def test_decorator_registers_and_keeps_the_function(
    owner_connection, axon_jupyter_client, monkeypatch
):
    from axon_jupyter.notebook import connection as conn_module

    monkeypatch.setattr(conn_module, "_current", owner_connection)

    def define():
        @axon.node(category="text", version="0.1.0", quiet=True)
        def exclaim(text: str, marks: int = 1) -> str:
            """Add exclamation marks."""
            return text + "!" * marks

        return exclaim

    exclaim = await call(define)
    assert exclaim("hi", 2) == "hi!!"  # still a plain function locally
    assert exclaim.node_type.id == "exclaim" and exclaim.node_type.category == "text"
    resp = await axon_jupyter_client.get("nodes/exclaim")
    assert resp.status == 200
    body = resp.json()
    assert body["description"] == "Add exclamation marks."
    assert [(p["name"], p["type"], p["required"]) for p in body["inputs"]] == [
        ("text", "string", True),
        ("marks", "integer", False),
    ]


def test_sdk_client_is_what_the_builder_uses(owner_connection):
    assert isinstance(owner_connection.client, AxonOS)
    assert owner_connection.minted_key_id is not None
    assert owner_connection.client.credentials.api_key.startswith("axon_")
