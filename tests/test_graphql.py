"""GraphQL over HTTP at /axon/v1/graphql against a real server: the seed's example query,
every query and mutation, error codes, limits, and a crafted document that must not
stall the server."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from tornado.httpclient import AsyncHTTPClient

SEED_QUERY = """query GetWorkflow($id: ID!) {
workflow(id: $id) {
id
name
description
status
definition {
nodes {
id
type
position {
x
y
}
config
}
connections {
from
to
sourcePort
targetPort
}
}
executions(limit: 10) {
id
status
startTime
endTime
duration
}
}
}"""

DEFINITION = {
    "nodes": [
        {
            "id": "start",
            "type": "node_manual_trigger",
            "position": {"x": 0, "y": 0},
            "config": {},
        },
        {
            "id": "set",
            "type": "node_set",
            "position": {"x": 200, "y": 40},
            "config": {"values": {"greeting": "hi"}},
        },
    ],
    "connections": [{"from": "start", "to": "set", "sourcePort": "output", "targetPort": "input"}],
}


async def gql(client, query: str, variables: dict | None = None, **kw):
    body = {"query": query}
    if variables is not None:
        body["variables"] = variables
    body.update(kw)
    return await client.post("graphql", body)


def codes(resp) -> list[str]:
    return [e["extensions"]["code"] for e in resp.json().get("errors", [])]


async def make_workflow(user, name: str = "etl", definition: dict | None = None) -> dict:
    resp = await user.client.post(
        "workflows", {"name": name, "description": "d", "definition": definition or DEFINITION}
    )
    assert resp.status == 201, resp
    return resp.json()


async def test_seed_example_query_verbatim(axon_user):
    wf = await make_workflow(axon_user)
    resp = await gql(axon_user.client, SEED_QUERY, {"id": wf["id"]}, operationName="GetWorkflow")
    assert resp.status == 200, resp
    body = resp.json()
    assert "errors" not in body, body
    got = body["data"]["workflow"]
    assert got["id"] == wf["id"] and got["name"] == "etl" and got["status"] == "draft"
    assert got["definition"]["nodes"][1] == {
        "id": "set",
        "type": "node_set",
        "position": {"x": 200.0, "y": 40.0},
        "config": {"values": {"greeting": "hi"}},
    }
    assert got["definition"]["connections"] == DEFINITION["connections"]
    assert got["executions"] == []


async def test_workflow_queries_match_rest(axon_user, axon_other_user):
    a = await make_workflow(axon_user, "alpha")
    b = await make_workflow(axon_user, "beta")
    await make_workflow(axon_other_user, "theirs")
    query = """query($f: WorkflowFilter) { workflows(filter: $f) {
        id name nodeCount executionCount version createdAt updatedAt
        definition { nodes { id } } } }"""
    resp = await gql(axon_user.client, query)
    assert resp.status == 200, resp
    items = resp.json()["data"]["workflows"]
    assert [w["id"] for w in items] == [b["id"], a["id"]]  # newest first, only hers
    rest = (await axon_user.client.get("workflows")).json()["workflows"]
    assert [w["created_at"] for w in rest] == [w["createdAt"] for w in items]
    assert items[0]["definition"]["nodes"] == [{"id": "start"}, {"id": "set"}]
    assert items[0]["nodeCount"] == 2 and items[0]["version"] == 1

    resp = await gql(axon_user.client, query, {"f": {"search": "alp", "limit": 1}})
    assert [w["name"] for w in resp.json()["data"]["workflows"]] == ["alpha"]
    resp = await gql(axon_user.client, query, {"f": {"limit": 101}})
    assert codes(resp) == ["VALIDATION_ERROR"]
    assert resp.json()["errors"][0]["extensions"]["details"]["field"] == "limit"
    resp = await gql(axon_user.client, query, {"f": {"status": "bogus"}})
    assert codes(resp) == ["VALIDATION_ERROR"]


async def test_someone_elses_workflow_is_not_found(axon_user, axon_other_user):
    theirs = await make_workflow(axon_other_user)
    for wid in (theirs["id"], "wf_0000000000000000"):
        resp = await gql(
            axon_user.client, "query($id: ID!) { workflow(id: $id) { id } }", {"id": wid}
        )
        assert resp.status == 200
        body = resp.json()
        assert body["data"] == {"workflow": None}
        assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND", "details": {"id": wid}}
        assert body["errors"][0]["path"] == ["workflow"]


async def test_mutations_create_update_delete(axon_user):
    create = """mutation($in: CreateWorkflowInput!) {
        createWorkflow(input: $in) { id name status version definition { nodes { id } } } }"""
    resp = await gql(
        axon_user.client,
        create,
        {"in": {"name": "made", "status": "active", "definition": DEFINITION}},
    )
    assert resp.status == 200, resp
    made = resp.json()["data"]["createWorkflow"]
    assert made["status"] == "active" and made["version"] == 1
    stored = (await axon_user.client.get(f"workflows/{made['id']}")).json()
    assert stored["name"] == "made" and stored["definition"]["nodes"][0]["id"] == "start"

    update = """mutation($id: ID!, $in: UpdateWorkflowInput!) {
        updateWorkflow(id: $id, input: $in) { id name version } }"""
    resp = await gql(
        axon_user.client, update, {"id": made["id"], "in": {"name": "renamed", "version": 1}}
    )
    assert resp.json()["data"]["updateWorkflow"] == {
        "id": made["id"],
        "name": "renamed",
        "version": 2,
    }
    resp = await gql(
        axon_user.client, update, {"id": made["id"], "in": {"name": "x", "version": 1}}
    )
    assert codes(resp) == ["CONFLICT"] and resp.json()["data"] is None
    assert (await axon_user.client.get(f"workflows/{made['id']}")).json()["name"] == "renamed"

    resp = await gql(
        axon_user.client, "mutation($id: ID!) { deleteWorkflow(id: $id) }", {"id": made["id"]}
    )
    assert resp.json() == {"data": {"deleteWorkflow": True}}
    assert (await axon_user.client.get(f"workflows/{made['id']}")).status == 404
    resp = await gql(
        axon_user.client, "mutation($id: ID!) { deleteWorkflow(id: $id) }", {"id": made["id"]}
    )
    assert codes(resp) == ["NOT_FOUND"]


async def test_invalid_definition_is_the_rest_validation_error(axon_user):
    bad = {"nodes": [{"id": "a", "type": "node_nope"}], "connections": []}
    create = "mutation($in: CreateWorkflowInput!) { createWorkflow(input: $in) { id } }"
    resp = await gql(axon_user.client, create, {"in": {"name": "x", "definition": bad}})
    rest = await axon_user.client.post("workflows", {"name": "x", "definition": bad})
    assert rest.status == 400
    err = resp.json()["errors"][0]
    assert err["extensions"]["code"] == "VALIDATION_ERROR"
    assert err["message"] == rest.json()["error"]["message"]
    assert err["extensions"]["details"] == rest.json()["error"]["details"]
    assert (await axon_user.client.get("workflows")).json()["pagination"]["total"] == 0


async def test_nodes_queries(axon_user):
    resp = await gql(
        axon_user.client,
        """{ nodes(filter: {search: "http"}) { id name category version builtin
            inputs { name type required } outputs { name } configSchema } }""",
    )
    assert resp.status == 200, resp
    nodes = resp.json()["data"]["nodes"]
    assert "node_http_request" in [n["id"] for n in nodes]
    rest = (await axon_user.client.get("nodes/node_http_request")).json()
    resp = await gql(
        axon_user.client,
        'query { node(id: "node_http_request") { id version builtin inputs { name type } } }',
    )
    node = resp.json()["data"]["node"]
    assert node["version"] == rest["version"] and node["builtin"] is True
    assert [i["name"] for i in node["inputs"]] == [i["name"] for i in rest["inputs"]]
    resp = await gql(axon_user.client, 'query { node(id: "node_nope") { id } }')
    assert codes(resp) == ["NOT_FOUND"]


async def test_get_runs_queries_but_never_mutations(axon_user):
    resp = await axon_user.client.get(
        "graphql",
        params={
            "query": "query Q($s: String) { workflows(filter: {search: $s}) { id } }",
            "variables": json.dumps({"s": "x"}),
        },
    )
    assert resp.status == 200 and resp.json() == {"data": {"workflows": []}}
    resp = await axon_user.client.get(
        "graphql", params={"query": 'mutation { createWorkflow(input: {name: "x"}) { id } }'}
    )
    assert resp.status == 405 and codes(resp) == ["METHOD_NOT_ALLOWED"]
    assert (await axon_user.client.get("workflows")).json()["pagination"]["total"] == 0


async def test_auth_scopes_and_bad_requests(axon_client, axon_user):
    resp = await axon_client.anonymous().post("graphql", {"query": "{ workflows { id } }"})
    assert resp.status == 401 and resp.error_code == "UNAUTHORIZED"
    key = (
        await axon_user.client.post("api-keys", {"name": "ro", "scopes": ["workflows:read"]})
    ).json()["key"]
    ro = axon_client.api_key(key)
    assert (await gql(ro, "{ workflows { id } }")).json() == {"data": {"workflows": []}}
    resp = await gql(ro, 'mutation { createWorkflow(input: {name: "x"}) { id } }')
    assert codes(resp) == ["FORBIDDEN"]
    assert resp.json()["errors"][0]["extensions"]["details"] == {"scope": "workflows:write"}

    for body, field in (
        ({"query": ""}, "query"),
        ({"query": "{ workflows { id } }", "variables": [1]}, "variables"),
    ):
        resp = await axon_user.client.post("graphql", body)
        assert resp.status == 400 and codes(resp) == ["VALIDATION_ERROR"], resp
        assert resp.json()["errors"][0]["extensions"]["details"]["field"] == field
    resp = await axon_user.client.post("graphql", body=b"{nope")
    assert resp.status == 400 and resp.error_code == "VALIDATION_ERROR"
    resp = await gql(axon_user.client, "{ workflows { id ")
    assert resp.status == 400 and codes(resp) == ["VALIDATION_ERROR"]
    assert "Syntax Error" in resp.json()["errors"][0]["message"]
    resp = await gql(axon_user.client, "{ workflows { nope } }")
    assert resp.status == 400 and codes(resp) == ["VALIDATION_ERROR"]
    assert resp.json()["errors"][0]["locations"] == [{"line": 1, "column": 15}]
    resp = await gql(axon_user.client, "subscription { systemHealth { status } }")
    assert resp.status == 400 and codes(resp) == ["VALIDATION_ERROR"]


async def test_introspection_for_authenticated_users(axon_client, axon_user):
    query = "{ __schema { queryType { name } subscriptionType { fields { name } } } }"
    resp = await gql(axon_user.client, query)
    schema = resp.json()["data"]["__schema"]
    assert schema["queryType"]["name"] == "Query"
    assert {f["name"] for f in schema["subscriptionType"]["fields"]} == {
        "workflowExecution",
        "systemHealth",
    }
    assert (await gql(axon_client.anonymous(), query)).status == 401


@pytest.mark.parametrize(
    "query, limit",
    [
        ("{ workflows { " + "definition { nodes { position { x } } } " + "} }", None),
        ("{ " + " ".join(f"a{i}: workflows {{ id }}" for i in range(60)) + " }", "alias"),
        ("{ workflows { " + "executions(limit: 1) { workflow { " * 7 + "id" + " } }" * 8, "depth"),
        (
            "{ workflows(filter: {limit: 100}) { executions(limit: 100) { nodes { id: nodeId "
            "outputs } } } }",
            "cost",
        ),
    ],
)
async def test_depth_alias_and_cost_limits(axon_user, query, limit):
    resp = await gql(axon_user.client, query)
    if limit is None:
        assert resp.status == 200 and resp.json() == {"data": {"workflows": []}}
        return
    assert resp.status == 400, resp
    err = resp.json()["errors"][0]
    assert err["extensions"]["code"] == "VALIDATION_ERROR"
    assert err["extensions"]["details"]["limit"] == limit
    assert err["extensions"]["details"]["actual"] > err["extensions"]["details"]["max"]


def crafted_documents() -> dict[str, str]:
    """16-33 KB documents of the shapes that make graphql-core's validate() crawl (the
    overlapping-fields rule on repeated fields with arguments takes seconds on 10 KB),
    and one harmless large document that goes the worker-thread path."""
    pad = " " * 6000  # whitespace is free for the lexer but counts as size
    return {
        "tokens": "{ workflows { " + "id " * 6000 + "} }",
        "nesting": "query { workflows { " + "... on Workflow { name " * 900 + "}" * 900 + " } }",
        "conflicting": "{ "
        + " ".join(f'workflow(id: "{i % 2}") {{ id name }}' for i in range(350))
        + pad
        + " }",
        "overlapping": "{ workflows { "
        + " ".join("definition { nodes { id type } connections { from } }" for _ in range(300))
        + " } }",
        "fragments": "".join(
            f'fragment F{i} on Query {{ workflow(id: "{i % 2}") {{ id }} }}\n' for i in range(250)
        )
        + "{ "
        + " ".join(f"...F{i}" for i in range(250))
        + pad
        + " }",
        "large but fine": '{ workflows(filter: {search: "'
        + "x" * 150
        + '"}) { id name } }'
        + "#"
        + "c" * 17_000,
    }


async def test_crafted_documents_never_stall_the_server(axon_client, axon_user):
    docs = crafted_documents()
    assert all(16_000 <= len(d) <= 34_000 for d in docs.values()), {
        k: len(d) for k, d in docs.items()
    }

    async def attack():
        return await asyncio.gather(*(gql(axon_user.client, d) for d in list(docs.values()) * 3))

    # Its own HTTP client: the fixture's shares 10 connection slots with the attack.
    prober = AsyncHTTPClient(force_instance=True)
    attack_task = asyncio.ensure_future(attack())
    worst, answered = 0.0, 0
    while not attack_task.done():
        t0 = time.perf_counter()
        health = await prober.fetch(axon_client.api_url + "/health", raise_error=False)
        worst = max(worst, time.perf_counter() - t0)
        assert health.code == 200
        answered += 1
        await asyncio.sleep(0.005)
    prober.close()
    assert answered >= 3
    assert worst < 1.0, f"/health took {worst:.2f}s while crafted documents were handled"
    results = dict(zip(list(docs) * 3, attack_task.result(), strict=True))
    for name, resp in results.items():
        if name == "large but fine":
            assert resp.status == 200 and resp.json() == {"data": {"workflows": []}}, resp
        else:
            assert resp.status == 400, (name, resp)
            assert codes(resp) == ["VALIDATION_ERROR"], (name, resp.json())


async def run(user, workflow_id: str) -> dict:
    resp = await user.client.post(f"workflows/{workflow_id}/execute?wait=10", {"input": {}})
    assert resp.status == 201 and resp.json()["status"] == "succeeded", resp
    return resp.json()


async def test_seed_query_with_executions(axon_user):
    wf = await make_workflow(axon_user)
    runs = [await run(axon_user, wf["id"]) for _ in range(3)]
    resp = await gql(axon_user.client, SEED_QUERY, {"id": wf["id"]})
    executions = resp.json()["data"]["workflow"]["executions"]
    assert [e["id"] for e in executions] == [r["id"] for r in reversed(runs)]  # newest first
    rest = runs[-1]
    assert executions[0] == {
        "id": rest["id"],
        "status": "succeeded",
        "startTime": rest["started_at"],
        "endTime": rest["finished_at"],
        "duration": rest["duration"],
    }


async def test_execution_queries_and_execute_mutation(axon_user, axon_other_user):
    wf = await make_workflow(axon_user)
    mutation = """mutation($id: ID!, $in: ExecuteWorkflowInput) {
        executeWorkflow(id: $id, input: $in) { id status workflowId input } }"""
    resp = await gql(axon_user.client, mutation, {"id": wf["id"], "in": {"input": {"k": 2}}})
    started = resp.json()["data"]["executeWorkflow"]
    # a fast in-process run may already have moved on by the time the answer is written
    assert started["status"] in ("queued", "running", "succeeded") and started["input"] == {"k": 2}
    done = (await axon_user.client.get(f"executions/{started['id']}?wait=10")).json()
    for _ in range(100):
        if done["status"] == "succeeded":
            break
        await asyncio.sleep(0.05)
        done = (await axon_user.client.get(f"executions/{started['id']}")).json()
    assert done["status"] == "succeeded"

    one = """query($id: ID!) { execution(id: $id) { id status progress currentNode output
        workflowVersion workflow { id name } createdAt startTime endTime duration
        nodes { nodeId type version status attempts startTime endTime duration outputs } } }"""
    got = (await gql(axon_user.client, one, {"id": started["id"]})).json()["data"]["execution"]
    assert got["status"] == "succeeded" and got["progress"] == 1 and got["output"] == done["output"]
    assert got["workflow"] == {"id": wf["id"], "name": "etl"}
    assert [n["nodeId"] for n in got["nodes"]] == [n["node_id"] for n in done["nodes"]]
    assert got["nodes"][1]["outputs"] == done["nodes"][1]["outputs"]

    listing = """query($f: ExecutionFilter) { executions(filter: $f) { id status
        nodes { nodeId status } } }"""
    resp = await gql(
        axon_user.client, listing, {"f": {"workflowId": wf["id"], "status": "succeeded"}}
    )
    items = resp.json()["data"]["executions"]
    assert [i["id"] for i in items] == [started["id"]]
    assert [n["status"] for n in items[0]["nodes"]] == ["succeeded", "succeeded"]
    resp = await gql(axon_user.client, listing, {"f": {"status": "exploded"}})
    assert codes(resp) == ["VALIDATION_ERROR"]

    # bob sees none of it, and cannot run alice's workflow
    resp = await gql(axon_other_user.client, one, {"id": started["id"]})
    assert codes(resp) == ["NOT_FOUND"]
    assert (await gql(axon_other_user.client, listing)).json()["data"]["executions"] == []
    resp = await gql(axon_other_user.client, mutation, {"id": wf["id"]})
    assert codes(resp) == ["NOT_FOUND"]
    total = (await axon_user.client.get("executions")).json()["pagination"]["total"]
    assert total == 1


async def test_lists_do_not_query_per_item(axon_user, axon_runtime, monkeypatch):
    """Definitions, executions and node records of a list come in a fixed number of
    store reads, however long the list."""
    reads = []
    original = axon_runtime.store._read

    async def counting(sql, params=()):
        if "DISTINCT engine_id" not in sql and "GROUP BY status" not in sql:
            reads.append(sql)  # not the engine's reaper nor the health ticker
        return await original(sql, params)

    query = """{ workflows(filter: {limit: 20}) { id definition { nodes { id } }
        executions(limit: 5) { id workflow { name } nodes { nodeId } } } }"""

    async def count_for(n_workflows: int) -> int:
        while (
            len((await axon_user.client.get("workflows?limit=100")).json()["workflows"])
            < n_workflows
        ):
            wf = await make_workflow(axon_user)
            await run(axon_user, wf["id"])
        reads.clear()
        monkeypatch.setattr(axon_runtime.store, "_read", counting)
        resp = await gql(axon_user.client, query)
        monkeypatch.setattr(axon_runtime.store, "_read", original)
        assert "data" in resp.json(), resp
        data = resp.json()["data"]["workflows"]
        assert len(data) == n_workflows and all(len(w["executions"]) == 1 for w in data), resp
        return len(reads)

    few = await count_for(2)
    many = await count_for(8)
    assert many == few, (few, many)
    assert many <= 8
