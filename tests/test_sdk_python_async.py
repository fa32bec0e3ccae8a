"""`AsyncAxonOS` against a real running server: the same surface as `AxonOS`, awaited."""

from __future__ import annotations

import inspect
import time

import axonos
import pytest
from axonos import (
    AsyncAxonOS,
    AuthenticationError,
    AxonOS,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)


@pytest.fixture(autouse=True)
def no_axon_env(monkeypatch):
    for name in ("AXON_URL", "AXON_API_KEY", "AXON_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def _public(obj) -> dict[str, inspect.Signature]:
    return {
        # Same parameters; the return types differ (SyncPage/AsyncPage, Iterator/AsyncIterator).
        name: inspect.signature(getattr(obj, name)).replace(
            return_annotation=inspect.Signature.empty
        )
        for name in dir(obj)
        if not name.startswith("_") and callable(getattr(obj, name))
    }


def test_async_surface_mirrors_the_sync_one():
    sync = AxonOS(api_key="k", base_url="http://127.0.0.1:1/axon/v1")
    asyn = AsyncAxonOS(api_key="k", base_url="http://127.0.0.1:1/axon/v1")
    for resource in ("auth", "workflows", "nodes", "executions", "api_keys"):
        sync_methods = _public(getattr(sync, resource))
        async_methods = _public(getattr(asyn, resource))
        assert sync_methods == async_methods, resource
        assert sync_methods, resource
        for name in async_methods:
            method = getattr(getattr(asyn, resource), name)
            # Everything that talks to the server is awaited, or iterated with async for.
            assert (
                inspect.iscoroutinefunction(method)
                or inspect.isasyncgenfunction(method)
                or (name in ("tail",))
            ), f"{resource}.{name}"
    assert inspect.iscoroutinefunction(asyn.health)
    assert inspect.iscoroutinefunction(AsyncAxonOS.login)
    assert isinstance(AsyncAxonOS.__dict__["workflows"], __import__("functools").cached_property)


async def test_seed_example_and_paging(axon_client, axon_user):
    key = (await axon_user.client.post("api-keys", {"name": "async"})).json()["key"]
    for i in range(12):
        assert (await axon_user.client.post("workflows", {"name": f"a{i:02d}"})).status == 201
    async with AsyncAxonOS(api_key=key, base_url=axon_client.api_url) as client:
        page = await client.workflows.list(limit=5)
        assert isinstance(page, axonos.AsyncPage)
        assert (len(page.items), page.total, page.total_pages) == (5, 12, 3)
        second = await page.next_page()
        assert second.page == 2 and {w.id for w in second.items}.isdisjoint(
            {w.id for w in page.items}
        )
        names = [wf.name async for wf in page]
        assert sorted(names) == [f"a{i:02d}" for i in range(12)]
        sizes = [len(p.items) async for p in page.iter_pages()]
        assert sizes == [5, 5, 2]
        found = [wf.name async for wf in client.workflows.iter(search="a1", limit=1)]
        assert sorted(found) == ["a10", "a11"]
        assert (await client.health()).status == "ok"


async def test_login_refresh_me_logout(axon_client, axon_user):
    client = await AsyncAxonOS.login(
        axon_user.email, axon_user.password, base_url=axon_client.api_url
    )
    me = await client.auth.me()
    assert (me.id, me.via) == (axon_user.id, "jwt")
    first = client.credentials.token
    client.credentials.expires_at = time.time()  # due: the next call refreshes first
    assert (await client.auth.me()).id == axon_user.id
    assert client.credentials.token != first
    token = await client.auth.refresh()
    assert token.token == client.credentials.token
    current = client.credentials.token
    await client.auth.logout()
    assert client.credentials.token is None
    assert (await axon_client.bearer(current).get("auth/me")).status == 401
    await client.close()

    with pytest.raises(AuthenticationError) as info:
        await AsyncAxonOS.login(axon_user.email, "not-it-at-all", base_url=axon_client.api_url)
    assert info.value.reason == "invalid_credentials"


async def test_workflows_and_api_keys(axon_client, axon_user, axon_other_user):
    async with AsyncAxonOS(
        token=axon_user.token, refresh_token=axon_user.refresh_token, base_url=axon_client.api_url
    ) as client:
        wf = await client.workflows.create(name="async wf", status="active")
        assert (wf.version, wf.status) == (1, "active")
        assert (await client.workflows.get(wf.id)).name == "async wf"
        wf2 = await client.workflows.update(wf.id, description="d", version=1)
        assert wf2.version == 2
        with pytest.raises(ConflictError):
            await client.workflows.update(wf.id, description="x", version=1)
        assert [v.version for v in await client.workflows.versions(wf.id)] == [2, 1]
        assert (await client.workflows.get_version(wf.id, 1)).description == ""
        assert (await client.workflows.restore(wf.id, 1)).version == 3
        with pytest.raises(ValidationError):
            await client.workflows.create(name="x", status="bogus")

        theirs = (await axon_other_user.client.post("workflows", {"name": "b"})).json()["id"]
        with pytest.raises(NotFoundError):
            await client.workflows.get(theirs)

        key = await client.api_keys.create(name="ro", scopes=["workflows:read"])
        assert [k.id for k in await client.api_keys.list()] == [key.id]
        async with AsyncAxonOS(api_key=key.key, base_url=axon_client.api_url) as reader:
            assert (await reader.workflows.list()).total == 1
            with pytest.raises(PermissionDeniedError):
                await reader.workflows.delete(wf.id)
            await client.api_keys.revoke(key.id)
            with pytest.raises(AuthenticationError):
                await reader.workflows.list()

        await client.workflows.delete(wf.id)
        assert (await axon_user.client.get(f"workflows/{wf.id}")).status == 404


async def test_nodes(axon_client, axon_admin):
    async with AsyncAxonOS(token=axon_admin.token, base_url=axon_client.api_url) as client:
        builtins = await client.nodes.list(builtin=True)
        assert "node_http_request" in {n.id for n in builtins}
        assert all(n.builtin for n in builtins)

        async def halve(inputs, config):
            """Halves its input."""
            return {"output": inputs["input"]["n"] / 2}

        node = await client.nodes.register(halve, category="math")
        assert (node.id, node.version, node.description) == ("halve", "1.0.0", "Halves its input.")
        source = axonos.resources.nodes.function_source(halve)
        assert "async def run(inputs, config):\n    return await halve(inputs, config)" in source
        assert (await client.nodes.get("halve")).category == "math"
        assert [v.version for v in await client.nodes.versions("halve")] == ["1.0.0"]
        assert [n.id for n in await client.nodes.list(builtin=False)] == ["halve"]
        with pytest.raises(ConflictError):
            await client.nodes.register(halve)

        # The registered async function runs as a node of a workflow.
        definition = {
            "nodes": [
                {"id": "start", "type": "node_manual_trigger", "position": {"x": 0, "y": 0}},
                {"id": "half", "type": "halve", "position": {"x": 1, "y": 0}},
            ],
            "connections": [
                {"from": "start", "to": "half", "sourcePort": "output", "targetPort": "input"}
            ],
        }
        wf = await client.workflows.create(name="halve", definition=definition)
        ex = await client.workflows.execute(wf.id, input={"n": 5}, wait=30)
        got = await client.executions.get(ex.id)
        assert got.status == "succeeded", got.error
        assert got.output == {"half": {"output": 2.5}}
        # The custom node's version, and the hash of the code that ran.
        assert got.node_versions["half"] == f"halve@1.0.0#{node.code_hash[:12]}"
