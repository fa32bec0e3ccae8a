"""Workflow definitions checked against node types: types, versions, ports, required
inputs and config schemas (400 VALIDATION_ERROR naming node and field), and the
catalog's resolve() contract with the engine."""

from __future__ import annotations

import pytest

from axon_jupyter.errors import ValidationError

CODE = "def run(inputs, config):\n    return {'output': config.get('factor', 1)}\n"


def wf(*nodes, connections=()):
    return {"name": "wf", "definition": {"nodes": list(nodes), "connections": list(connections)}}


def n(node_id, type_, config=None, **extra):
    return {"id": node_id, "type": type_, "config": config or {}, **extra}


def c(src, dst, sp="output", tp="input"):
    return {"from": src, "to": dst, "sourcePort": sp, "targetPort": tp}


async def register(client, node_id="scale", version="1.0.0", **extra):
    resp = await client.post(
        "nodes",
        {"id": node_id, "name": node_id, "version": version, "code": CODE, **extra},
    )
    assert resp.status == 201, resp


async def test_valid_definition_with_builtins_is_accepted(axon_user):
    body = wf(
        n("start", "node_manual_trigger"),
        n("fetch", "node_http_request", {"url": "https://example.com/{{ input.id }}"}),
        n("shape", "node_transform", {"mapping": {"status": "{{ nodes.fetch.response.status }}"}}),
        n("check", "node_condition", {"expression": "{{ nodes.shape.output.status == '200' }}"}),
        n("wait", "node_delay", {"seconds": "{{ input.wait }}"}),  # template: checked at run
        n("yes", "node_log", {"message": "ok"}),
        n("join", "node_merge", {"mode": "first"}),
        connections=[
            c("start", "fetch"),
            c("fetch", "shape", "response"),
            c("shape", "check"),
            c("check", "wait", "true"),
            c("wait", "yes"),
            c("check", "join", "false", "input_2"),
            c("yes", "join", "output", "input_1"),
        ],
    )
    resp = await axon_user.client.post("workflows", body)
    assert resp.status == 201, resp


async def assert_invalid(client, body, node, field, issue_part):
    resp = await client.post("workflows", body)
    assert resp.status == 400, resp
    assert resp.error_code == "VALIDATION_ERROR"
    details = resp.json()["error"]["details"]
    assert details["node"] == node and details["field"] == field, details
    assert issue_part in details["issue"], details
    listed = await client.get("workflows")
    assert listed.json()["pagination"]["total"] == 0  # nothing was stored
    return details


@pytest.mark.parametrize(
    "body,node,field,issue",
    [
        (wf(n("a", "node_nope")), "a", "definition.nodes[0].type", "unknown node type"),
        (
            wf(n("a", "node_set", version="7.0.0")),
            "a",
            "definition.nodes[0].version",
            "available: 1.0.0",
        ),
        (
            wf(n("a", "node_set"), n("b", "node_log"), connections=[c("a", "b", "result")]),
            "a",
            "definition.connections[0].sourcePort",
            "'result' is not an output of node_set (outputs: output)",
        ),
        (
            wf(n("a", "node_set"), n("b", "node_merge"), connections=[c("a", "b")]),
            "b",
            "definition.connections[0].targetPort",
            "inputs: input_1, input_2, input_3, input_4",
        ),
        (
            wf(n("a", "node_manual_trigger"), n("b", "node_log"), connections=[c("b", "a")]),
            "a",
            "definition.connections[0].targetPort",
            "inputs: none",
        ),
        (
            wf(n("fetch", "node_http_request")),
            "fetch",
            "definition.nodes[0].inputs.url",
            "required input",
        ),
        (
            wf(n("d", "node_delay")),
            "d",
            "definition.nodes[0].config.seconds",
            "is required",
        ),
        (
            wf(n("d", "node_delay", {"seconds": "soon"})),
            "d",
            "definition.nodes[0].config.seconds",
            "is not of type 'number'",
        ),
        (
            wf(n("d", "node_delay", {"seconds": 5, "sconds": 1})),
            "d",
            "definition.nodes[0].config.sconds",
            "is not a known config key",
        ),
        (
            wf(n("f", "node_http_request", {"url": "https://x", "headers": {"A": ["b"]}})),
            "f",
            "definition.nodes[0].config.headers.A",
            "is not of type",
        ),
        (
            wf(n("f", "node_http_request", {"url": "https://x", "method": "BREW"})),
            "f",
            "definition.nodes[0].config.method",
            "is not one of",
        ),
        (
            wf(n("p", "node_python", {"code": "def run(inputs, config)\n  pass"})),
            "p",
            "definition.nodes[0].config.code",
            "syntax error at line 1",
        ),
        (
            wf(n("p", "node_python", {"code": "print('no run here')"})),
            "p",
            "definition.nodes[0].config.code",
            "must define a top-level function run(inputs, config)",
        ),
        (
            wf(n("nb", "node_notebook", {"path": "../../etc/x.ipynb"})),
            "nb",
            "definition.nodes[0].config.path",
            "must not leave the notebook root",
        ),
        (
            wf(n("nb", "node_notebook", {"path": "a.ipynb", "parameters": {"class": 1}})),
            "nb",
            "definition.nodes[0].config.parameters.class",
            "identifier",
        ),
        (
            wf(n("s", "node_subworkflow")),
            "s",
            "definition.nodes[0].config.workflow_id",
            "is required",
        ),
    ],
)
async def test_invalid_definitions(axon_user, body, node, field, issue):
    await assert_invalid(axon_user.client, body, node, field, issue)


async def test_required_input_satisfied_by_config_or_connection(axon_user):
    by_config = wf(n("fetch", "node_http_request", {"url": "https://example.com"}))
    assert (await axon_user.client.post("workflows", by_config)).status == 201
    by_port = wf(
        n("src", "node_set", {"values": {"u": "https://example.com"}}),
        n("fetch", "node_http_request"),
        connections=[c("src", "fetch", "output", "url")],
    )
    assert (await axon_user.client.post("workflows", by_port)).status == 201


async def test_several_problems_are_all_listed(axon_user):
    body = wf(n("a", "node_nope"), n("b", "node_delay"), n("c", "node_http_request"))
    resp = await axon_user.client.post("workflows", body)
    assert resp.status == 400
    details = resp.json()["error"]["details"]
    assert (details["node"], details["field"]) == ("a", "definition.nodes[0].type")
    assert [(e["node"], e["field"]) for e in details["errors"]] == [
        ("a", "definition.nodes[0].type"),
        ("b", "definition.nodes[1].config.seconds"),
        ("c", "definition.nodes[2].inputs.url"),
    ]


async def test_update_with_bad_definition_changes_nothing(axon_user):
    made = await axon_user.client.post("workflows", wf(n("a", "node_set")))
    assert made.status == 201
    path = f"workflows/{made.json()['id']}"
    resp = await axon_user.client.put(path, {"definition": wf(n("a", "node_gone"))["definition"]})
    assert resp.status == 400 and resp.json()["error"]["details"]["field"] == (
        "definition.nodes[0].type"
    )
    after = await axon_user.client.get(path)
    assert after.json()["version"] == 1
    assert after.json()["definition"]["nodes"][0]["type"] == "node_set"
    assert (
        await axon_user.client.put(path, {"definition": wf(n("x", "node_log"))["definition"]})
    ).status == 200


async def test_custom_types_versions_schema_and_visibility(axon_admin, axon_user_factory):
    c_admin = axon_admin.client
    await register(
        c_admin,
        config_schema={
            "type": "object",
            "properties": {"factor": {"type": "integer", "minimum": 1}},
            "required": ["factor"],
        },
        inputs=[{"name": "value", "required": True}],
    )
    await register(c_admin, version="2.0.0")
    # Pinned 1.0.0 uses 1.0.0's ports and schema; unpinned uses 2.0.0's defaults.
    pinned = wf(n("s", "scale", {"factor": 0}, version="1.0.0"))
    await assert_invalid(c_admin, pinned, "s", "definition.nodes[0].config.factor", "minimum")
    pinned_ok = wf(
        n("src", "node_set"),
        n("s", "scale", {"factor": 2}, version="1.0.0"),
        connections=[c("src", "s", "output", "value")],
    )
    assert (await c_admin.post("workflows", pinned_ok)).status == 201
    latest = wf(n("src", "node_set"), n("s", "scale"), connections=[c("src", "s")])
    assert (await c_admin.post("workflows", latest)).status == 201
    unknown = wf(n("s", "scale", version="3.0.0"))
    resp = await c_admin.post("workflows", unknown)
    assert resp.status == 400
    assert "available: 2.0.0, 1.0.0" in resp.json()["error"]["details"]["issue"]

    # Another user cannot use (or learn of) alice's node type.
    bob = await axon_user_factory("bob@example.com")
    resp = await bob.client.post("workflows", wf(n("s", "scale")))
    assert resp.status == 400
    assert resp.json()["error"]["details"]["issue"] == "unknown node type 'scale'"


async def test_resolve_contract(axon_admin, axon_runtime):
    catalog = axon_runtime.catalog
    nt = await catalog.resolve(axon_admin.id, "node_http_request")
    assert (nt.id, nt.version, nt.builtin, nt.ref) == (
        "node_http_request",
        "1.2.0",
        True,
        "node_http_request@1.2.0",
    )
    assert (await catalog.resolve(axon_admin.id, "node_set", "1.0")).version == "1.0.0"
    with pytest.raises(ValidationError) as err:
        await catalog.resolve(axon_admin.id, "node_set", "2.0.0")
    assert err.value.details["version"] == "2.0.0" and err.value.details["type"] == "node_set"
    with pytest.raises(ValidationError) as err:
        await catalog.resolve(axon_admin.id, "nope")
    assert err.value.details == {"field": "type", "issue": "unknown node type", "type": "nope"}

    await register(axon_admin.client, "custom_a", "1.0.0")
    await register(axon_admin.client, "custom_a", "1.1.0")
    latest = await catalog.resolve(axon_admin.id, "custom_a")
    assert latest.version == "1.1.0" and latest.execution == "process"
    assert latest.code == CODE and latest.code_hash and latest.ref.startswith("custom_a@1.1.0#")
    assert latest.owner_id == axon_admin.id and not latest.builtin
    with pytest.raises(ValidationError):
        await catalog.resolve("user_someone_else", "custom_a")

    definition = {
        "nodes": [
            {"id": "a", "type": "node_set", "config": {}},
            {"id": "b", "type": "custom_a", "version": "1.0.0", "config": {}},
        ],
        "connections": [{"from": "a", "to": "b", "sourcePort": "output", "targetPort": "input"}],
    }
    resolved = await catalog.check_definition(axon_admin.id, definition)
    assert {k: v.ref.split("#")[0] for k, v in resolved.items()} == {
        "a": "node_set@1.0.0",
        "b": "custom_a@1.0.0",
    }
    python = await catalog.resolve(axon_admin.id, "node_python")
    assert python.execution == "process" and python.code is None
    assert python.extra["raw_config"] == ["code"]
