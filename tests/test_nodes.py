"""`/nodes`: the catalog over REST, custom node registration, versions, tenancy, scopes."""

from __future__ import annotations

import pytest

BUILTIN_VERSIONS = {
    "node_manual_trigger": "1.0.0",
    "node_http_request": "1.2.0",
    "node_python": "1.0.0",
    "node_notebook": "1.0.0",
    "node_set": "1.0.0",
    "node_transform": "1.0.0",
    "node_merge": "1.0.0",
    "node_condition": "1.0.0",
    "node_delay": "1.0.0",
    "node_log": "1.0.0",
    "node_subworkflow": "1.0.0",
}
CODE = "def run(inputs, config):\n    return {'output': inputs.get('input')}\n"


def custom(node_id: str = "slugify", version: str = "1.0.0", **extra):
    return {
        "id": node_id,
        "name": "Slugify",
        "description": "Turns titles into slugs",
        "category": "text",
        "version": version,
        "code": CODE,
        **extra,
    }


async def test_list_builtins_in_seed_shape(axon_user):
    resp = await axon_user.client.get("nodes")
    assert resp.status == 200
    nodes = resp.json()["nodes"]
    assert {n["id"]: n["version"] for n in nodes} == BUILTIN_VERSIONS
    http = next(n for n in nodes if n["id"] == "node_http_request")
    assert set(http) == {
        "id",
        "name",
        "description",
        "category",
        "version",
        "inputs",
        "outputs",
        "config_schema",
        "builtin",
    }
    assert http["name"] == "HTTP Request" and http["category"] == "integration"
    assert http["inputs"][0] == {
        "name": "url",
        "type": "string",
        "required": True,
        "description": "Target URL for request",
    }
    assert http["outputs"] == [
        {
            "name": "response",
            "type": "object",
            "required": False,
            "description": "HTTP response data",
        }
    ]
    assert http["builtin"] is True
    assert http["config_schema"]["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(http["config_schema"]["properties"]) >= {
        "url",
        "method",
        "headers",
        "body",
        "timeout",
    }


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"category": "flow"}, {"node_condition", "node_delay", "node_subworkflow"}),
        ({"category": "FLOW"}, {"node_condition", "node_delay", "node_subworkflow"}),
        ({"search": "http"}, {"node_http_request"}),
        ({"search": "IPYNB"}, {"node_notebook"}),
        ({"version": "1.2.0"}, {"node_http_request"}),
        ({"version": "9.9.9"}, set()),
        ({"category": "code", "search": "kernel"}, {"node_notebook"}),
        ({"builtin": "false"}, set()),
    ],
)
async def test_list_filters(axon_user, params, expected):
    resp = await axon_user.client.get("nodes", params=params)
    assert resp.status == 200
    assert {n["id"] for n in resp.json()["nodes"]} == expected


@pytest.mark.parametrize(
    "params,field",
    [({"builtin": "maybe"}, "builtin"), ({"search": "x" * 201}, "search")],
)
async def test_list_bad_filters(axon_user, params, field):
    resp = await axon_user.client.get("nodes", params=params)
    assert resp.status == 400 and resp.error_code == "VALIDATION_ERROR"
    assert resp.json()["error"]["details"]["field"] == field


async def test_get_builtin_and_versions(axon_user):
    c = axon_user.client
    resp = await c.get("nodes/node_http_request")
    assert resp.status == 200 and resp.json()["version"] == "1.2.0"
    assert (await c.get("nodes/node_http_request", params={"version": "1.2.0"})).status == 200
    missing = await c.get("nodes/node_http_request", params={"version": "0.1.0"})
    assert missing.status == 404 and missing.error_code == "NOT_FOUND"
    versions = await c.get("nodes/node_set/versions")
    assert versions.status == 200
    assert [v["version"] for v in versions.json()["versions"]] == ["1.0.0"]
    for path in ("nodes/node_nope", "nodes/node_nope/versions"):
        resp = await c.get(path)
        assert resp.status == 404 and resp.error_code == "NOT_FOUND"


async def test_reads_need_auth_and_scope(axon_client, axon_user):
    resp = await axon_client.get("nodes")
    assert resp.status == 401 and resp.error_code == "UNAUTHORIZED"
    made = await axon_user.client.post("api-keys", {"name": "runner", "scopes": ["executions:run"]})
    assert made.status == 201, made
    narrow = axon_client.api_key(made.json()["key"])
    for path in ("nodes", "nodes/node_set", "nodes/node_set/versions"):
        resp = await narrow.get(path)
        assert resp.status == 403 and resp.error_code == "FORBIDDEN"
        assert resp.json()["error"]["details"]["scope"] == "workflows:read"


async def test_register_needs_nodes_write_scope(axon_client, axon_admin):
    made = await axon_admin.client.post(
        "api-keys", {"name": "reader", "scopes": ["workflows:read", "workflows:write"]}
    )
    reader = axon_client.api_key(made.json()["key"])
    resp = await reader.post("nodes", custom())
    assert resp.status == 403 and resp.json()["error"]["details"]["scope"] == "nodes:write"
    assert (await axon_admin.client.get("nodes/slugify")).status == 404
    made = await axon_admin.client.post("api-keys", {"name": "writer", "scopes": ["nodes:write"]})
    writer = axon_client.api_key(made.json()["key"])
    assert (await writer.post("nodes", custom())).status == 201


async def test_register_versions_latest_and_conflicts(axon_admin):
    c = axon_admin.client
    resp = await c.post("nodes", custom(version="1.9.0"))
    assert resp.status == 201, resp
    body = resp.json()
    assert resp.headers["Location"].endswith("/axon/v1/nodes/slugify?version=1.9.0")
    assert body["builtin"] is False and body["version"] == "1.9.0"
    assert body["inputs"] == [
        {"name": "input", "type": "any", "required": False, "description": "Upstream data"}
    ]
    assert [p["name"] for p in body["outputs"]] == ["output"]
    assert body["config_schema"] == {"type": "object"}
    assert len(body["code_hash"]) == 64 and body["created_at"].endswith("Z")
    located = await c.get(resp.headers["Location"].split("/axon/v1/", 1)[1])
    assert located.status == 200 and located.json() == body

    # 1.10.0 is newer than 1.9.0 (semantic, not string order).
    assert (await c.post("nodes", custom(version="1.10.0"))).status == 201
    assert (await c.post("nodes", custom(version="1.2.0"))).status == 201
    again = await c.post("nodes", custom(version="1.9.0"))
    assert again.status == 409 and again.error_code == "CONFLICT"
    assert again.json()["error"]["details"]["version"] == "1.9.0"
    same = await c.post("nodes", custom(version="1.10"))  # 1.10 == 1.10.0 semantically
    assert same.status == 409

    latest = await c.get("nodes/slugify")
    assert latest.json()["version"] == "1.10.0"
    pinned = await c.get("nodes/slugify", params={"version": "1.2.0"})
    assert pinned.status == 200 and pinned.json()["version"] == "1.2.0"
    versions = await c.get("nodes/slugify/versions")
    assert [v["version"] for v in versions.json()["versions"]] == ["1.10.0", "1.9.0", "1.2.0"]

    listed = await c.get("nodes", params={"builtin": "false"})
    assert [(n["id"], n["version"]) for n in listed.json()["nodes"]] == [("slugify", "1.10.0")]
    by_version = await c.get("nodes", params={"version": "1.2.0"})
    assert {(n["id"], n["version"]) for n in by_version.json()["nodes"]} == {
        ("node_http_request", "1.2.0"),
        ("slugify", "1.2.0"),
    }
    by_category = await c.get("nodes", params={"category": "text"})
    assert [n["id"] for n in by_category.json()["nodes"]] == ["slugify"]


async def test_builtin_ids_cannot_be_shadowed(axon_admin):
    resp = await axon_admin.client.post("nodes", custom("node_http_request", version="9.0.0"))
    assert resp.status == 409 and resp.error_code == "CONFLICT"
    assert resp.json()["error"]["details"]["field"] == "id"
    got = await axon_admin.client.get("nodes/node_http_request")
    assert got.json()["version"] == "1.2.0" and got.json()["builtin"] is True


async def test_custom_ports_and_schema(axon_admin):
    resp = await axon_admin.client.post(
        "nodes",
        custom(
            "scorer",
            inputs=[{"name": "text", "type": "string", "required": True}, {"name": "extra"}],
            outputs=[{"name": "score", "type": "number", "description": "0..1"}],
            config_schema={
                "type": "object",
                "properties": {"threshold": {"type": "number"}},
                "additionalProperties": False,
            },
        ),
    )
    assert resp.status == 201, resp
    body = resp.json()
    assert body["inputs"] == [
        {"name": "text", "type": "string", "required": True, "description": ""},
        {"name": "extra", "type": "any", "required": False, "description": ""},
    ]
    assert body["outputs"] == [
        {"name": "score", "type": "number", "required": False, "description": "0..1"}
    ]
    assert body["config_schema"]["properties"] == {"threshold": {"type": "number"}}


@pytest.mark.parametrize(
    "change,field",
    [
        ({"code": "def run(inputs, config)\n    return 1"}, "code"),
        ({"code": "x = 1"}, "code"),
        ({"code": "def run(inputs):\n    return 1"}, "code"),
        ({"code": "def run(a, b, c):\n    return 1"}, "code"),
        ({"code": ""}, "code"),
        ({"code": None}, "code"),
        ({"version": "one"}, "version"),
        ({"version": ""}, "version"),
        ({"id": "9lives"}, "id"),
        ({"id": "has space"}, "id"),
        ({"name": ""}, "name"),
        ({"category": "!"}, "category"),
        ({"surprise": 1}, "surprise"),
        ({"inputs": "input"}, "inputs"),
        ({"inputs": [{"name": "a"}, {"name": "a"}]}, "inputs[1].name"),
        ({"inputs": [{"name": "not-ok"}]}, "inputs[0].name"),
        ({"outputs": [{"name": "o", "type": "blob"}]}, "outputs[0].type"),
        ({"outputs": [{"name": "o", "required": "yes"}]}, "outputs[0].required"),
        ({"config_schema": {"type": "nope"}}, "config_schema.type"),
        ({"config_schema": {"type": "array"}}, "config_schema.type"),
        ({"config_schema": []}, "config_schema"),
    ],
)
async def test_register_validation_changes_nothing(axon_admin, change, field):
    body = {**custom(), **change}
    body = {k: v for k, v in body.items() if v is not None}
    resp = await axon_admin.client.post("nodes", body)
    assert resp.status == 400, resp
    assert resp.error_code == "VALIDATION_ERROR"
    assert resp.json()["error"]["details"]["field"] == field
    listed = await axon_admin.client.get("nodes", params={"builtin": "false"})
    assert listed.json()["nodes"] == []


async def test_register_rejects_malformed_json(axon_admin):
    resp = await axon_admin.client.request("POST", "nodes", body=b"{not json")
    assert resp.status == 400 and resp.error_code == "VALIDATION_ERROR"
    resp = await axon_admin.client.post("nodes", [1, 2])
    assert resp.status == 400 and resp.json()["error"]["details"]["field"] == "body"


async def test_members_cannot_register_code_by_default(axon_user):
    resp = await axon_user.client.post("nodes", custom())
    assert resp.status == 403 and resp.error_code == "FORBIDDEN"
    assert resp.json()["error"]["details"]["policy"] == "owner"
    assert (await axon_user.client.get("nodes/slugify")).status == 404


async def test_jupyter_owner_may_register(axon_jupyter_client):
    resp = await axon_jupyter_client.post("nodes", custom("owner_node"))
    assert resp.status == 201, resp
    assert (await axon_jupyter_client.get("nodes/owner_node")).status == 200


async def test_custom_nodes_are_private_to_their_owner(axon_admin, axon_user_factory):
    other_admin = await axon_user_factory("bob-admin@example.com", role="admin")
    assert (await axon_admin.client.post("nodes", custom("private_node"))).status == 201
    bob = other_admin.client
    for path in ("nodes/private_node", "nodes/private_node/versions"):
        theirs = await bob.get(path)
        missing = await bob.get(path.replace("private_node", "never_existed"))
        assert theirs.status == missing.status == 404
        assert theirs.json()["error"]["code"] == missing.json()["error"]["code"] == "NOT_FOUND"
        assert theirs.json()["error"]["message"] == missing.json()["error"]["message"]
    listed = await bob.get("nodes", params={"search": "private"})
    assert listed.json()["nodes"] == []
    # Bob may register the same id: it is his own, separate node type.
    mine = await bob.post("nodes", custom("private_node", version="1.0.0"))
    assert mine.status == 201
    assert mine.json()["code_hash"] != "" and (await bob.get("nodes/private_node")).status == 200
    alice_versions = await axon_admin.client.get("nodes/private_node/versions")
    assert len(alice_versions.json()["versions"]) == 1


async def test_node_responses_match_openapi(axon_admin, axon_openapi):
    c = axon_admin.client
    check = axon_openapi.check
    check(await c.get("nodes"), "GET", "/nodes")
    check(await c.get("nodes", params={"builtin": "maybe"}), "GET", "/nodes")
    created = await c.post("nodes", custom("documented"))
    check(created, "POST", "/nodes")
    check(await c.post("nodes", custom("documented")), "POST", "/nodes")  # 409
    check(await c.post("nodes", {"id": "x"}), "POST", "/nodes")  # 400
    check(await c.get("nodes/documented"), "GET", "/nodes/{node_id}")
    check(await c.get("nodes/node_http_request"), "GET", "/nodes/{node_id}")
    check(await c.get("nodes/missing"), "GET", "/nodes/{node_id}")
    check(await c.get("nodes/documented/versions"), "GET", "/nodes/{node_id}/versions")
    check(await c.get("nodes/missing/versions"), "GET", "/nodes/{node_id}/versions")
