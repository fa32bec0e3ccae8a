"""Scopes: every endpoint declares what it needs; a credential without it gets 403."""

import re

from tornado.web import RequestHandler

from axon_jupyter.api.routes import rest_routes
from axon_jupyter.auth.identity import ALL_SCOPES

GROUP = re.compile(r"\([^)]*\)")
MEMBER_SCOPES = [s for s in ALL_SCOPES if s != "admin"]
# Resources whose every operation must declare a scope (the rest: own-account endpoints
# such as /auth/me and /api-keys, which any valid credential of the user may use).
SCOPED = ("workflows", "executions", "nodes", "oauth")
EXPECTED = {
    ("/workflows", "get"): "workflows:read",
    ("/workflows", "post"): "workflows:write",
    ("/workflows/([^/]+)", "put"): "workflows:write",
    ("/workflows/([^/]+)", "delete"): "workflows:write",
    ("/workflows/([^/]+)/execute", "post"): "executions:run",
    ("/executions/([^/]+)/stop", "post"): "executions:run",
    ("/nodes", "post"): "nodes:write",
    ("/oauth/clients", "post"): "admin",
}


def implemented(handler) -> list[str]:
    return [
        v
        for v in ("get", "post", "put", "patch", "delete")
        if getattr(handler, v) is not getattr(RequestHandler, v)
    ]


def scoped_operations():
    for pattern, handler in rest_routes():
        if pattern.strip("/").split("/")[0] in SCOPED and handler.auth_required:
            for verb in implemented(handler):
                yield pattern, verb, handler.required_scopes.get(verb)


def test_every_resource_operation_declares_a_known_scope():
    ops = list(scoped_operations())
    assert len(ops) >= 12
    for pattern, verb, scope in ops:
        assert scope in ALL_SCOPES, f"{verb.upper()} {pattern} declares no scope"
    declared = {(p, v): s for p, v, s in ops}
    for key, scope in EXPECTED.items():
        if key in declared:
            assert declared[key] == scope, key


async def test_each_endpoint_refuses_a_key_without_its_scope(axon_client, axon_user, axon_runtime):
    """For every scoped operation: a key holding every other member scope gets 403 naming
    exactly the missing one, before the request touches anything."""
    user = await axon_runtime.store.get_user(axon_user.id)
    keys = {}
    for scope in MEMBER_SCOPES:
        _, keys[scope] = await axon_runtime.auth.create_api_key(
            user, {"name": f"without {scope}", "scopes": [s for s in MEMBER_SCOPES if s != scope]}
        )
    checked = 0
    for pattern, verb, scope in scoped_operations():
        if scope == "admin":
            continue
        path = GROUP.sub("x_0000000000000000", pattern).lstrip("/")
        body = b"{}" if verb != "get" else None
        resp = await axon_client.api_key(keys[scope]).request(verb.upper(), path, body=body)
        assert resp.status == 403, (verb, pattern, resp)
        assert resp.error_code == "FORBIDDEN"
        assert resp.json()["error"]["details"] == {"scope": scope}
        assert scope in resp.json()["error"]["message"]
        checked += 1
    assert checked >= 10
    assert (await axon_user.client.get("workflows")).json()["pagination"]["total"] == 0


async def test_a_read_only_key_reads_but_cannot_write(axon_client, axon_user):
    created = await axon_user.client.post("api-keys", {"name": "ro", "scopes": ["workflows:read"]})
    assert created.status == 201 and created.json()["scopes"] == ["workflows:read"]
    ro = axon_client.api_key(created.json()["key"])
    assert (await ro.get("workflows")).status == 200
    denied = await ro.post("workflows", {"name": "nope"})
    assert denied.status == 403 and denied.error_code == "FORBIDDEN"
    assert denied.json()["error"] == {
        "code": "FORBIDDEN",
        "message": "missing scope workflows:write",
        "details": {"scope": "workflows:write"},
    }
    assert (await axon_user.client.get("workflows")).json()["pagination"]["total"] == 0
    # nor can it mint itself a broader key; by default a key it creates is as narrow as it
    broader = await ro.post("api-keys", {"name": "escalate", "scopes": ["workflows:write"]})
    assert broader.status == 403 and broader.json()["error"]["details"] == {
        "scope": "workflows:write"
    }
    narrow = await ro.post("api-keys", {"name": "same"})
    assert narrow.status == 201 and narrow.json()["scopes"] == ["workflows:read"]
    keys = await axon_user.client.get("api-keys")
    assert sorted(k["name"] for k in keys.json()["api_keys"]) == ["ro", "same"]


async def test_login_tokens_and_the_jupyter_identity_carry_full_rights(
    axon_user, axon_jupyter_client, axon_admin
):
    assert (await axon_user.client.post("workflows", {"name": "mine"})).status == 201
    assert (await axon_jupyter_client.post("workflows", {"name": "owner's"})).status == 201
    # the admin scope is only for admins, and implies every other scope
    member_admin = await axon_user.client.post("api-keys", {"name": "a", "scopes": ["admin"]})
    assert (
        member_admin.status == 400 and member_admin.json()["error"]["details"]["field"] == "scopes"
    )
    admin_key = await axon_admin.client.post("api-keys", {"name": "a", "scopes": ["admin"]})
    assert admin_key.status == 201
    as_admin = axon_admin.client.api_key(admin_key.json()["key"])
    assert (await as_admin.post("workflows", {"name": "admin's"})).status == 201
    assert (await as_admin.get("oauth/clients")).status == 200


async def test_managing_oauth_clients_needs_the_admin_scope(axon_admin):
    key = await axon_admin.client.post("api-keys", {"name": "wf", "scopes": ["workflows:read"]})
    limited = axon_admin.client.api_key(key.json()["key"])
    resp = await limited.post(
        "oauth/clients", {"name": "x", "redirect_uris": ["https://a.example/cb"]}
    )
    assert resp.status == 403 and resp.json()["error"]["details"] == {"scope": "admin"}
    assert (await axon_admin.client.get("oauth/clients")).json() == {"clients": []}
