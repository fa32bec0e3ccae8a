"""Route-table-driven checks over every mounted Axon route and method.

Adding a route with a path parameter means adding a factory to OWNED below: the test
fails until the new route is covered, so no endpoint escapes the 401/404 rules.
"""

import re

import pytest

from axon_jupyter.api.base import HTTP_VERBS
from axon_jupyter.api.openapi import openapi_document
from axon_jupyter.api.routes import rest_routes

GROUP = re.compile(r"\([^)]*\)")


def implemented(handler) -> list[str]:
    from tornado.web import RequestHandler

    return [
        v
        for v in HTTP_VERBS
        if v not in ("head", "options") and getattr(handler, v) is not getattr(RequestHandler, v)
    ]


def fill(pattern: str, values: tuple[str, ...]) -> str:
    it = iter(values)
    return GROUP.sub(lambda _: next(it), pattern).lstrip("/")


async def _workflow(user) -> tuple[str, ...]:
    resp = await user.client.post("workflows", {"name": "owned"})
    return (resp.json()["id"], "1")


async def _api_key(user) -> tuple[str, ...]:
    resp = await user.client.post("api-keys", {"name": "owned"})
    return (resp.json()["id"],)


async def _oauth_client(user, admin) -> tuple[str, ...]:
    resp = await admin.client.post(
        "oauth/clients",
        {"name": "owned", "owner_id": user.id, "redirect_uris": ["https://app.example.com/cb"]},
    )
    return (resp.json()["client_id"],)


async def _execution(user) -> tuple[str, ...]:
    wf = await user.client.post(
        "workflows",
        {"name": "runs", "definition": {"nodes": [{"id": "t", "type": "node_manual_trigger"}]}},
    )
    run = await user.client.post(f"workflows/{wf.json()['id']}/execute", {}, params={"wait": 10})
    assert run.status == 201, run
    return (run.json()["id"],)


async def _node(user) -> tuple[str, ...]:
    resp = await user.client.post(
        "nodes",
        {
            "id": "owned_node",
            "name": "Owned",
            "version": "1.0.0",
            "code": "def run(inputs, config):\n    return inputs\n",
        },
    )
    assert resp.status in (201, 409), resp  # 409: made for an earlier route already
    return ("owned_node",)


# first path segment -> factory creating an object owned by `user`, returning path values
OWNED = {
    "workflows": _workflow,
    "api-keys": _api_key,
    "executions": _execution,
    "nodes": _node,
}


@pytest.fixture
def axon_config():
    # members may register code nodes here, so /nodes/{id} has an owned object to probe
    return {"code_nodes": "all"}


# the same for objects only an admin creates on a user's behalf: factory(user, admin)
ADMIN_OWNED = {"oauth": _oauth_client}


def protected_routes():
    for pattern, handler in rest_routes():
        if handler.auth_required:
            for verb in implemented(handler):
                yield pattern, handler, verb


async def test_every_protected_route_answers_401_without_credentials(axon_client):
    checked = 0
    for pattern, _, verb in protected_routes():
        path = fill(pattern, ("x_0000000000000000", "1", "1"))
        resp = await axon_client.anonymous().request(
            verb.upper(), path, body=b"{}" if verb != "get" else None
        )
        assert resp.status == 401, (verb, pattern, resp)
        assert resp.error_code == "UNAUTHORIZED"
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        checked += 1
    assert checked >= 10


async def test_every_object_route_answers_404_for_another_users_object(
    axon_user, axon_other_user, axon_admin
):
    checked = 0
    for pattern, _, verb in protected_routes():
        if not GROUP.search(pattern):
            continue
        segment = pattern.strip("/").split("/")[0]
        assert segment in OWNED or segment in ADMIN_OWNED, f"add a factory for /{segment}"
        if segment in ADMIN_OWNED:
            values = await ADMIN_OWNED[segment](axon_user, axon_admin)
        else:
            values = await OWNED[segment](axon_user)
        path = fill(pattern, values)
        body = b"{}" if verb != "get" else None
        resp = await axon_other_user.client.request(verb.upper(), path, body=body)
        assert resp.status == 404, (verb, pattern, resp)
        assert resp.error_code == "NOT_FOUND"
        mine = await axon_user.client.request(
            "GET" if verb == "delete" else verb.upper(), path, body=body
        )
        assert mine.status != 404, (verb, pattern, mine)  # the object is really there
        checked += 1
    assert checked >= 6


def test_openapi_describes_exactly_the_mounted_routes():
    from openapi_spec_validator import validate

    document = openapi_document()
    validate(document)
    shape = lambda p: re.sub(r"\{[^}]+\}", "{}", p)  # noqa: E731
    described = {
        shape(p): {m for m in ops if m in HTTP_VERBS} for p, ops in document["paths"].items()
    }
    mounted = {shape(GROUP.sub("{}", p)): set(implemented(h)) for p, h in rest_routes()}
    assert described == mounted


@pytest.mark.parametrize("anonymous_path", ["health", "openapi.json"])
async def test_public_routes(axon_client, anonymous_path):
    assert (await axon_client.get(anonymous_path)).status == 200
