"""Workflows REST: CRUD, validation, paging, filters, concurrency, revisions, tenancy."""

import json

import pytest

DEF = {
    "nodes": [
        {"id": "a", "type": "node_set", "position": {"x": 0, "y": 0}, "config": {}},
        {"id": "b", "type": "node_log", "position": {"x": 100, "y": 0}, "config": {}},
    ],
    "connections": [{"from": "a", "to": "b", "sourcePort": "output", "targetPort": "input"}],
}


async def create(client, **fields):
    body = {"name": "etl", "description": "ETL workflow for customer data", **fields}
    resp = await client.post("workflows", body)
    assert resp.status == 201, resp
    return resp.json()


async def test_create_get_update_delete(axon_user):
    c = axon_user.client
    wf = await create(c, definition=DEF)
    assert wf["id"].startswith("wf_") and wf["status"] == "draft" and wf["version"] == 1
    assert wf["node_count"] == 2 and wf["execution_count"] == 0
    assert wf["created_at"].endswith("Z")
    got = await c.get(f"workflows/{wf['id']}")
    assert got.status == 200 and got.json()["definition"] == wf["definition"]
    assert got.headers["ETag"] == f'"{wf["id"]}-v1"'
    upd = await c.put(f"workflows/{wf['id']}", {"status": "active", "version": 1})
    assert upd.status == 200
    assert upd.json()["status"] == "active" and upd.json()["version"] == 2
    assert upd.json()["name"] == "etl"  # fields not given are kept
    assert (await c.delete(f"workflows/{wf['id']}")).status == 204
    assert (await c.get(f"workflows/{wf['id']}")).status == 404
    assert (await c.delete(f"workflows/{wf['id']}")).status == 404


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "x", "status": "paused"}, "status"),
        ({"name": "x", "description": 5}, "description"),
        ({"name": "x", "owner": "me"}, "owner"),
        ({"name": "x", "definition": []}, "definition"),
        ({"name": "x", "definition": {"nodes": {}}}, "definition.nodes"),
        ({"name": "x", "definition": {"nodes": [{"type": "t"}]}}, "definition.nodes[0].id"),
        ({"name": "x", "definition": {"nodes": [{"id": "a"}]}}, "definition.nodes[0].type"),
        (
            {
                "name": "x",
                "definition": {"nodes": [{"id": "a", "type": "t", "position": {"x": "1"}}]},
            },
            "definition.nodes[0].position.x",
        ),
        (
            {
                "name": "x",
                "definition": {"nodes": [{"id": "a", "type": "t"}, {"id": "a", "type": "t"}]},
            },
            "definition.nodes[1].id",
        ),
        (
            {
                "name": "x",
                "definition": {
                    "nodes": [{"id": "a", "type": "t"}],
                    "connections": [{"from": "a", "to": "z"}],
                },
            },
            "definition.connections[0].to",
        ),
        (
            {
                "name": "x",
                "definition": {"nodes": [{"id": "a", "type": "t", "retry": {"max_attempts": 0}}]},
            },
            "definition.nodes[0].retry.max_attempts",
        ),
        (
            {"name": "x", "definition": {"nodes": [{"id": "a", "type": "t", "timeout_s": -1}]}},
            "definition.nodes[0].timeout_s",
        ),
    ],
)
async def test_create_validation(axon_user, body, field):
    resp = await axon_user.client.post("workflows", body)
    assert resp.status == 400, resp
    assert resp.error_code == "VALIDATION_ERROR"
    assert resp.json()["error"]["details"]["field"] == field
    assert (await axon_user.client.get("workflows")).json()["pagination"]["total"] == 0


async def test_cycle_is_rejected_naming_nodes(axon_user):
    definition = {
        "nodes": [{"id": n, "type": "t"} for n in "abc"],
        "connections": [
            {"from": "a", "to": "b"},
            {"from": "b", "to": "c"},
            {"from": "c", "to": "a"},
        ],
    }
    resp = await axon_user.client.post("workflows", {"name": "x", "definition": definition})
    assert resp.status == 400
    details = resp.json()["error"]["details"]
    assert details["issue"] == "cycle" and set(details["cycle"]) == {"a", "b", "c"}


async def test_validation_error_names_the_node(axon_user):
    definition = {"nodes": [{"id": "fetch", "type": "t", "position": {"x": None, "y": 0}}]}
    resp = await axon_user.client.post("workflows", {"name": "x", "definition": definition})
    assert resp.json()["error"]["details"]["node"] == "fetch"


async def test_pagination_and_filters(axon_user):
    c = axon_user.client
    for i in range(12):
        await create(c, name=f"flow {i:02d}", status="active" if i % 3 == 0 else "draft")
    page1 = (await c.get("workflows", params={"limit": 5})).json()
    assert page1["pagination"] == {"page": 1, "limit": 5, "total": 12, "total_pages": 3}
    assert [w["name"] for w in page1["workflows"]] == [f"flow {i:02d}" for i in range(11, 6, -1)]
    page3 = (await c.get("workflows", params={"limit": 5, "page": 3})).json()
    assert len(page3["workflows"]) == 2
    beyond = (await c.get("workflows", params={"limit": 5, "page": 9})).json()
    assert beyond["workflows"] == [] and beyond["pagination"]["total"] == 12
    default = (await c.get("workflows")).json()
    assert default["pagination"]["limit"] == 10 and len(default["workflows"]) == 10
    active = (await c.get("workflows", params={"status": "active"})).json()
    assert active["pagination"]["total"] == 4
    assert {w["status"] for w in active["workflows"]} == {"active"}
    found = (await c.get("workflows", params={"search": "FLOW 07"})).json()
    assert [w["name"] for w in found["workflows"]] == ["flow 07"]
    by_description = (await c.get("workflows", params={"search": "customer"})).json()
    assert by_description["pagination"]["total"] == 12
    literal = (await c.get("workflows", params={"search": "%"})).json()
    assert literal["pagination"]["total"] == 0
    for params, field in [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"page": 0}, "page"),
        ({"page": "x"}, "page"),
        ({"status": "nope"}, "status"),
    ]:
        resp = await c.get("workflows", params=params)
        assert resp.status == 400 and resp.json()["error"]["details"]["field"] == field, params


async def test_optimistic_concurrency(axon_user):
    c = axon_user.client
    wf = await create(c)
    path = f"workflows/{wf['id']}"
    stale = await c.put(path, {"name": "a", "version": 5})
    assert stale.status == 409 and stale.error_code == "CONFLICT"
    ok = await c.put(path, {"name": "b"}, headers={"If-Match": f'"{wf["id"]}-v1"'})
    assert ok.status == 200 and ok.headers["ETag"] == f'"{wf["id"]}-v2"'
    stale_etag = await c.put(path, {"name": "c"}, headers={"If-Match": f'"{wf["id"]}-v1"'})
    assert stale_etag.status == 412 and stale_etag.error_code == "PRECONDITION_FAILED"
    assert (await c.get(path)).json()["name"] == "b"


async def test_revisions_and_restore(axon_user):
    c = axon_user.client
    wf = await create(c, definition=DEF)
    path = f"workflows/{wf['id']}"
    await c.put(path, {"definition": {"nodes": [{"id": "only", "type": "node_log"}]}})
    await c.put(path, {"name": "renamed"})
    versions = (await c.get(f"{path}/versions")).json()["versions"]
    assert [v["version"] for v in versions] == [3, 2, 1]
    v1 = (await c.get(f"{path}/versions/1")).json()
    assert v1["definition"]["nodes"][0]["id"] == "a" and v1["name"] == "etl"
    restored = await c.post(f"{path}/versions/1/restore")
    assert restored.status == 200
    assert restored.json()["version"] == 4 and restored.json()["node_count"] == 2
    latest = (await c.get(f"{path}/versions/4")).json()
    assert latest["restored_from"] == 1 and latest["definition"] == v1["definition"]
    assert (await c.get(f"{path}/versions/99")).status == 404
    assert (await c.get(f"{path}/versions/abc")).status == 400
    assert (await c.post(f"{path}/versions/99/restore")).status == 404


async def test_other_users_workflow_is_404_byte_for_byte(axon_user, axon_other_user):
    wf = await create(axon_user.client)
    for method, path in [
        ("GET", f"workflows/{wf['id']}"),
        ("PUT", f"workflows/{wf['id']}"),
        ("DELETE", f"workflows/{wf['id']}"),
        ("GET", f"workflows/{wf['id']}/versions"),
        ("GET", f"workflows/{wf['id']}/versions/1"),
        ("POST", f"workflows/{wf['id']}/versions/1/restore"),
    ]:
        body = {"name": "x"} if method == "PUT" else None
        theirs = await axon_other_user.client.request(method, path, json_body=body)
        missing = await axon_other_user.client.request(
            method, path.replace(wf["id"], "wf_0000000000000000"), json_body=body
        )
        assert theirs.status == 404, (method, path)
        assert theirs.json()["error"]["code"] == "NOT_FOUND"
        assert theirs.body.replace(wf["id"].encode(), b"") == missing.body.replace(
            b"wf_0000000000000000", b""
        )
    assert (await axon_other_user.client.get("workflows")).json()["workflows"] == []
    assert (await axon_user.client.get(f"workflows/{wf['id']}")).json()["name"] == "etl"


async def test_malformed_json_and_body_limits(axon_user):
    c = axon_user.client
    cases = {
        b'{"name": "x"': "Expecting",
        b'{"name": NaN}': "NaN",
        b'{"name": "a", "name": "b"}': "duplicate",
        b'{"name": "x", "n": 1' + b"0" * 40 + b"}": "too large",
        b"[" * 200 + b"]" * 200: "nesting",
        b"\xff\xfe": "UTF-8",
    }
    for raw, issue in cases.items():
        resp = await c.request("POST", "workflows", body=raw)
        assert resp.status == 400, raw[:20]
        assert resp.error_code == "VALIDATION_ERROR"
        assert issue in resp.json()["error"]["details"]["issue"], resp
    assert (await c.request("POST", "workflows", body=b"")).status == 400
    assert (await c.get("workflows")).json()["pagination"]["total"] == 0


@pytest.fixture
def axon_config():
    return {"max_body_size": 4096}


async def test_payload_too_large(axon_user):
    big = json.dumps({"name": "x", "description": "d" * 5000})
    resp = await axon_user.client.request("POST", "workflows", body=big)
    assert resp.status == 413 and resp.error_code == "PAYLOAD_TOO_LARGE"
    assert (await axon_user.client.get("workflows")).json()["pagination"]["total"] == 0


async def test_unknown_route_and_method_use_the_envelope(axon_user):
    missing = await axon_user.client.get("no/such/thing")
    assert missing.status == 404 and missing.error_code == "NOT_FOUND"
    assert missing.headers["X-Request-Id"]
    wrong = await axon_user.client.request("PATCH", "workflows", body=b"{}")
    assert wrong.status == 405 and wrong.error_code == "METHOD_NOT_ALLOWED"


async def test_early_error_on_a_request_with_a_body_closes_the_connection_cleanly(axon_client):
    """A 401 decided before the body is read tells the client the connection ends."""
    import httpx

    async with httpx.AsyncClient(base_url=axon_client.api_url) as http:
        first = await http.post("/workflows", json={"name": "x"})
        assert first.status_code == 401 and first.headers["Connection"] == "close"
        second = await http.post("/workflows", json={"name": "y"})  # must not be dropped
        assert second.status_code == 401
        assert (await http.get("/health")).status_code == 200
