"""The Python SDK (`axonos`, blocking client) against a real running server.

The server runs on this test's event loop, so every blocking SDK call runs in a thread
(`await call(fn, ...)`); the async client has its own file (test_sdk_python_async.py).
"""

from __future__ import annotations

import asyncio
import time

import axonos
import jwt
import pytest
from axonos import (
    APIError,
    AuthenticationError,
    AxonOS,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    ValidationError,
)

from axon_jupyter.auth.tokens import ISSUER

call = asyncio.to_thread

DEFINITION = {
    "nodes": [{"id": "start", "type": "node_manual_trigger", "position": {"x": 0, "y": 0}}],
    "connections": [],
}


@pytest.fixture
def sdk(axon_client, axon_user):
    """Alice's SDK client, logged in with her JWT and refresh token."""
    client = AxonOS(
        token=axon_user.token, refresh_token=axon_user.refresh_token, base_url=axon_client.api_url
    )
    yield client
    client.close()


@pytest.fixture(autouse=True)
def no_axon_env(monkeypatch):
    for name in ("AXON_URL", "AXON_API_KEY", "AXON_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def _forged_expired_token(runtime, user_id: str) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": user_id,
        "iat": now - 120,
        "exp": now - 60,
        "jti": f"expired-{now}",
        "typ": "access",
    }
    return jwt.encode(claims, runtime.config.jwt_secret, algorithm="HS256")


# ---------------------------------------------------------------- configuration


async def test_seed_example_with_api_key(axon_client, axon_user):
    resp = await axon_user.client.post("api-keys", {"name": "seed"})
    key = resp.json()["key"]
    made = await axon_user.client.post("workflows", {"name": "seed wf"})
    assert made.status == 201

    def seed_example():
        client = AxonOS(api_key=key, base_url=axon_client.api_url)
        workflows = client.workflows.list()
        client.close()
        return workflows

    workflows = await call(seed_example)
    assert isinstance(workflows, axonos.SyncPage)
    assert [wf.name for wf in workflows.items] == ["seed wf"]
    assert workflows.items[0].id == made.json()["id"]
    assert isinstance(workflows.items[0], axonos.Workflow)
    assert workflows.total == 1 and workflows.page == 1


async def test_env_defaults_and_actionable_error(axon_client, axon_user, monkeypatch):
    with pytest.raises(ConfigurationError) as info:
        AxonOS(base_url=axon_client.api_url)
    message = str(info.value)
    assert "api_key=" in message and "AXON_API_KEY" in message and "AxonOS.login" in message

    monkeypatch.setenv("AXON_URL", axon_client.api_url)
    monkeypatch.setenv("AXON_TOKEN", axon_user.token)
    client = AxonOS()
    assert client.base_url == axon_client.api_url
    me = await call(client.auth.me)
    assert me.id == axon_user.id and me.via == "jwt"
    client.close()

    key = (await axon_user.client.post("api-keys", {"name": "env"})).json()["key"]
    monkeypatch.setenv("AXON_API_KEY", key)
    client = AxonOS()
    assert client.credentials.api_key == key
    me = await call(client.auth.me)
    assert me.via == "api_key"
    client.close()


async def test_base_url_accepts_the_jupyter_server_url(axon_client, axon_user):
    # The Jupyter server's own URL (with its base_url) works: /axon/v1 is appended.
    client = AxonOS(token=axon_user.token, base_url=axon_client.server_url + "/")
    assert client.base_url == axon_client.api_url
    assert client.websocket_url == axon_client.api_url.replace("http://", "ws://") + "/ws"
    health = await call(client.health)
    assert health.status == "ok" and health.version
    client.close()
    with pytest.raises(ConfigurationError):
        AxonOS(token="t", base_url="not a url")


# ---------------------------------------------------------------- auth


async def test_login_classmethod_me_and_proactive_refresh(axon_client, axon_user):
    client = await call(
        AxonOS.login, axon_user.email, axon_user.password, base_url=axon_client.api_url
    )
    first_token, first_refresh = client.credentials.token, client.credentials.refresh_token
    assert first_token and first_refresh
    me = await call(client.auth.me)
    assert (me.id, me.email) == (axon_user.id, axon_user.email)

    # The token is about to expire: the next call refreshes first, by itself.
    client.credentials.expires_at = time.time() + 5
    me = await call(client.auth.me)
    assert me.id == axon_user.id
    assert client.credentials.token != first_token
    assert client.credentials.refresh_token != first_refresh
    # The rotated refresh token is spent on the server: reusing it is refused.
    reused = await axon_client.post("auth/refresh", {"refresh_token": first_refresh})
    assert reused.status == 401 and reused.json()["error"]["details"]["reason"] == "token_reused"
    client.close()


async def test_wrong_password_is_authentication_error(axon_client, axon_user):
    with pytest.raises(AuthenticationError) as info:
        await call(AxonOS.login, axon_user.email, "wrong-password", base_url=axon_client.api_url)
    err = info.value
    assert (err.status, err.code, err.reason) == (401, "UNAUTHORIZED", "invalid_credentials")
    assert err.request_id and err.message == "Invalid email or password"


async def test_expired_token_is_refreshed_and_retried_once(axon_client, axon_user, axon_runtime):
    expired = _forged_expired_token(axon_runtime, axon_user.id)
    client = AxonOS(
        token=expired, refresh_token=axon_user.refresh_token, base_url=axon_client.api_url
    )
    # As if the client's clock were behind: it believes the token is still valid, so the
    # server's 401 token_expired is what triggers the refresh.
    client.credentials.expires_at = time.time() + 3600
    created = await call(client.workflows.create, name="after refresh")
    assert created.name == "after refresh"
    assert client.credentials.token != expired
    assert client.credentials.refresh_token != axon_user.refresh_token
    listed = await axon_user.client.get("workflows")
    assert [w["name"] for w in listed.json()["workflows"]] == ["after refresh"]

    # Without a refresh token there is nothing to retry with: the 401 surfaces.
    bare = AxonOS(token=expired, base_url=axon_client.api_url)
    with pytest.raises(AuthenticationError) as info:
        await call(bare.workflows.list)
    assert info.value.reason == "token_expired"
    client.close()
    bare.close()


async def test_explicit_refresh_and_logout(sdk, axon_client):
    old_token = sdk.credentials.token
    token = await call(sdk.auth.refresh)
    assert isinstance(token, axonos.Token)
    assert token.token == sdk.credentials.token != old_token
    assert token.user.id and token.expires_in == 3600

    current = sdk.credentials.token
    assert await call(sdk.auth.logout) is None
    assert sdk.credentials.token is None and sdk.credentials.refresh_token is None
    after = await axon_client.bearer(current).get("auth/me")
    assert after.status == 401
    with pytest.raises(ConfigurationError):
        await call(sdk.auth.refresh)


# ---------------------------------------------------------------- api keys


async def test_api_keys_create_list_revoke(sdk, axon_client):
    key = await call(sdk.api_keys.create, name="ci", scopes=["workflows:read"])
    assert isinstance(key, axonos.ApiKey)
    assert key.key.startswith("axon_") and key.scopes == ["workflows:read"]
    assert key.created_at is not None and key.created_at.tzinfo is not None

    keys = await call(sdk.api_keys.list)
    assert [(k.id, k.revoked, k.key) for k in keys] == [(key.id, False, None)]

    reader = AxonOS(api_key=key.key, base_url=axon_client.api_url)
    assert (await call(reader.workflows.list)).items == []
    with pytest.raises(PermissionDeniedError) as info:
        await call(reader.workflows.create, name="nope")
    assert info.value.status == 403 and info.value.details["scope"] == "workflows:write"

    assert await call(sdk.api_keys.revoke, key.id) is None
    assert [k.revoked for k in await call(sdk.api_keys.list)] == [True]
    with pytest.raises(AuthenticationError) as info:
        await call(reader.workflows.list)
    assert info.value.reason == "api_key_revoked"
    with pytest.raises(NotFoundError):
        await call(sdk.api_keys.revoke, "key_missing")
    with pytest.raises(ValidationError) as info:
        await call(sdk.api_keys.create, scopes=["root"])
    assert info.value.details["field"] == "scopes"
    reader.close()


# ---------------------------------------------------------------- workflows


async def test_workflow_crud_versions_and_concurrency(sdk, axon_user):
    wf = await call(sdk.workflows.create, name="etl", description="nightly", definition=DEFINITION)
    assert isinstance(wf, axonos.Workflow)
    assert (wf.name, wf.status, wf.version, wf.node_count) == ("etl", "draft", 1, 1)
    assert wf.definition["nodes"][0]["id"] == "start"

    got = await call(sdk.workflows.get, wf.id)
    assert got.id == wf.id and got.updated_at == wf.updated_at

    updated = await call(sdk.workflows.update, wf.id, status="active", version=1)
    assert (updated.status, updated.version) == ("active", 2)

    with pytest.raises(ConflictError) as info:
        await call(sdk.workflows.update, wf.id, name="stale", version=1)
    assert info.value.status == 409 and info.value.details["current"] == 2
    with pytest.raises(PreconditionFailedError) as info:
        await call(sdk.workflows.update, wf.id, name="stale", if_match=f'"{wf.id}-v1"')
    assert isinstance(info.value, ConflictError) and info.value.status == 412
    renamed = await call(sdk.workflows.update, wf.id, name="etl2", if_match=f'"{wf.id}-v2"')
    assert renamed.version == 3

    versions = await call(sdk.workflows.versions, wf.id)
    assert [v.version for v in versions] == [3, 2, 1]  # newest first
    assert all(isinstance(v, axonos.WorkflowVersion) for v in versions)
    first = await call(sdk.workflows.get_version, wf.id, 1)
    assert (first.name, first.definition["nodes"][0]["id"]) == ("etl", "start")
    restored = await call(sdk.workflows.restore, wf.id, 1)
    assert (restored.name, restored.version) == ("etl", 4)

    assert await call(sdk.workflows.delete, wf.id) is None
    with pytest.raises(NotFoundError) as info:
        await call(sdk.workflows.get, wf.id)
    assert (info.value.code, info.value.details) == ("NOT_FOUND", {"id": wf.id})
    gone = await axon_user.client.get(f"workflows/{wf.id}")
    assert gone.status == 404


async def test_validation_error_changes_nothing(sdk, axon_user):
    with pytest.raises(ValidationError) as info:
        await call(sdk.workflows.create, name="")
    err = info.value
    assert (err.status, err.code, err.details["field"]) == (400, "VALIDATION_ERROR", "name")
    assert isinstance(err, APIError) and "name" in str(err)
    with pytest.raises(ValidationError):
        await call(sdk.workflows.list, limit=1000)
    listed = await axon_user.client.get("workflows")
    assert listed.json()["pagination"]["total"] == 0


async def test_other_users_workflow_is_not_found(sdk, axon_other_user):
    theirs = await axon_other_user.client.post("workflows", {"name": "bob's"})
    with pytest.raises(NotFoundError):
        await call(sdk.workflows.get, theirs.json()["id"])
    with pytest.raises(NotFoundError):
        await call(sdk.workflows.delete, theirs.json()["id"])
    still = await axon_other_user.client.get(f"workflows/{theirs.json()['id']}")
    assert still.status == 200


async def test_ids_are_path_encoded(sdk):
    # An id can never step into another route.
    with pytest.raises(NotFoundError) as info:
        await call(sdk.workflows.get, "../api-keys")
    assert info.value.details.get("id") == "../api-keys"


async def test_paging_across_pages_and_auto_iteration(sdk, axon_user):
    for i in range(23):
        resp = await axon_user.client.post(
            "workflows", {"name": f"wf {i:02d}", "status": "active" if i % 2 else "draft"}
        )
        assert resp.status == 201

    first = await call(sdk.workflows.list, limit=10)
    assert (len(first.items), first.page, first.total, first.total_pages) == (10, 1, 23, 3)
    assert first.has_next_page()
    second = await call(first.next_page)
    assert second.page == 2 and len(second.items) == 10
    third = await call(second.next_page)
    assert len(third.items) == 3 and not third.has_next_page()
    assert await call(third.next_page) is None

    every = await call(lambda: [wf.id for wf in first])
    assert len(every) == len(set(every)) == 23
    pages = await call(lambda: [len(p.items) for p in first.iter_pages()])
    assert pages == [10, 10, 3]

    active = await call(lambda: [wf.name for wf in sdk.workflows.iter(status="active", limit=4)])
    assert len(active) == 11 and all(int(n.split()[1]) % 2 for n in active)
    found = await call(lambda: list(sdk.workflows.iter(search="wf 1")))
    assert sorted(w.name for w in found) == [f"wf {i}" for i in range(10, 20)]


# ---------------------------------------------------------------- typed objects


async def test_records_keep_unknown_fields(sdk):
    me = await call(sdk.auth.me)
    assert isinstance(me, axonos.User)
    assert me.via == "jwt"  # not a declared field: read from .raw
    assert me.raw["email"] == me.email and me["role"] == "member"
    with pytest.raises(AttributeError):
        _ = me.no_such_field

    newer = axonos.Workflow.from_api(
        {"id": "wf_1", "name": "x", "created_at": "2024-01-15T10:30:00.000Z", "owner_team": "t"}
    )
    assert newer.owner_team == "t" and newer.to_dict()["owner_team"] == "t"
    assert newer.created_at.isoformat() == "2024-01-15T10:30:00+00:00"


# ---------------------------------------------------------------- nodes


def _decorate(fn):
    """Stands for a registering decorator: register() must drop it from the source."""
    fn.decorated = True
    return fn


@pytest.fixture
def admin_sdk(axon_client, axon_admin):
    client = AxonOS(token=axon_admin.token, base_url=axon_client.api_url)
    yield client
    client.close()


async def test_node_catalog_list_get_versions(sdk):
    nodes = await call(sdk.nodes.list)
    by_id = {n.id: n for n in nodes}
    http = by_id["node_http_request"]
    assert isinstance(http, axonos.NodeType) and http.builtin is True
    assert isinstance(http.inputs[0], axonos.Port)
    assert "url" in [p.name for p in http.inputs] + list(http.config_schema["properties"])
    assert {"node_manual_trigger", "node_python", "node_set"} <= set(by_id)

    integration = await call(sdk.nodes.list, category=http.category)
    assert integration and all(n.category == http.category for n in integration)
    assert [n.id for n in await call(sdk.nodes.list, search="HTTP Request")] == [
        "node_http_request"
    ]
    assert await call(sdk.nodes.list, builtin=False) == []

    got = await call(sdk.nodes.get, "node_http_request")
    assert (got.id, got.version) == ("node_http_request", http.version)
    assert (await call(sdk.nodes.get, "node_http_request", version=http.version)).id == got.id
    versions = await call(sdk.nodes.versions, "node_http_request")
    assert [v.version for v in versions] == [http.version]
    with pytest.raises(NotFoundError):
        await call(sdk.nodes.get, "node_does_not_exist")
    with pytest.raises(NotFoundError):
        await call(sdk.nodes.versions, "node_does_not_exist")


async def test_register_custom_node_from_a_function(admin_sdk, sdk):
    @_decorate
    def double_it(inputs, config):
        """Doubles its input.

        Longer text that stays out of the catalog's description.
        """
        factor = config.get("factor", 2)
        return {"output": inputs["input"] * factor}

    node = await call(admin_sdk.nodes.register, double_it, inputs=["input"], category="math")
    assert (node.id, node.name, node.version, node.builtin) == (
        "double_it",
        "Double it",
        "1.0.0",
        False,
    )
    assert node.description == "Doubles its input."
    assert node.category == "math" and len(node.code_hash) == 64

    # What the server stored is runnable as a node: dedented, no decorator, exposed as run.
    source = axonos.resources.nodes.function_source(double_it)
    assert source.startswith("def double_it(inputs, config):") and "@_decorate" not in source
    namespace: dict = {}
    exec(compile(source, "<node>", "exec"), namespace)
    assert namespace["run"]({"input": 21}, {}) == {"output": 42}

    mine = await call(admin_sdk.nodes.list, builtin=False)
    assert [n.id for n in mine] == ["double_it"]
    # Custom nodes are their owner's: another user does not see them.
    assert await call(sdk.nodes.list, builtin=False) == []
    with pytest.raises(NotFoundError):
        await call(sdk.nodes.get, "double_it")

    with pytest.raises(ConflictError) as info:
        await call(admin_sdk.nodes.register, double_it)
    assert info.value.status == 409
    newer = await call(
        admin_sdk.nodes.register,
        code="async def run(inputs, config):\n    return inputs['input'] * 3\n",
        id="double_it",
        name="Triple it",
        version="1.1.0",
    )
    assert newer.version == "1.1.0"
    versions = await call(admin_sdk.nodes.versions, "double_it")
    assert sorted(v.version for v in versions) == ["1.0.0", "1.1.0"]
    assert (await call(admin_sdk.nodes.get, "double_it")).version == "1.1.0"
    assert (await call(admin_sdk.nodes.get, "double_it", version="1.0.0")).name == "Double it"


async def test_register_errors(admin_sdk, sdk, axon_admin):
    with pytest.raises(ValidationError) as info:
        await call(admin_sdk.nodes.register, code="x = 1\n", id="no_run")
    assert info.value.details["field"] == "code"
    with pytest.raises(ValidationError) as info:
        await call(admin_sdk.nodes.register, code="def run(i, c): pass\n", id="1bad")
    assert info.value.details["field"] == "id"
    # The default code_nodes policy lets only admins (and the Jupyter owner) add code.
    with pytest.raises(PermissionDeniedError) as info:
        await call(sdk.nodes.register, code="def run(i, c):\n    return i\n", id="mine")
    assert info.value.details["policy"] == "owner"
    # Bad calls are refused before anything is sent.
    with pytest.raises(ValueError):
        await call(admin_sdk.nodes.register)
    with pytest.raises(ValueError):
        await call(admin_sdk.nodes.register, code="def run(i, c): pass\n")
    with pytest.raises(ValueError):
        await call(admin_sdk.nodes.register, print)
    resp = await axon_admin.client.get("nodes", params={"builtin": "false"})
    assert resp.json()["nodes"] == []
