"""Rate limits in the real server: headers, the 429 at the edge, one budget per user."""

import time

import pytest

LIMIT = 5


@pytest.fixture
def axon_config():
    # a small standard budget over the default one-hour window: no timing involved
    return {"rate_limit_plans": {"standard": LIMIT}}


def rate(resp) -> tuple[int, int, int]:
    h = resp.headers
    return int(h["X-RateLimit-Limit"]), int(h["X-RateLimit-Remaining"]), int(h["X-RateLimit-Reset"])


async def test_every_authenticated_response_carries_the_headers(axon_client, axon_user):
    ok = await axon_user.client.get("workflows")
    assert ok.status == 200
    limit, remaining, reset = rate(ok)
    assert (limit, remaining) == (LIMIT, LIMIT - 1)
    assert time.time() <= reset <= time.time() + 3600 + 1
    missing = await axon_user.client.get("workflows/wf_nope")  # errors count and carry them
    assert missing.status == 404 and rate(missing)[1] == LIMIT - 2
    invalid = await axon_user.client.post("workflows", {"name": 7})
    assert invalid.status == 400 and rate(invalid)[1] == LIMIT - 3
    anonymous = await axon_client.get("health")  # nobody to count against
    assert "X-RateLimit-Limit" not in anonymous.headers


async def test_the_request_beyond_the_limit_is_429_and_changes_nothing(axon_user, axon_runtime):
    for expected in range(LIMIT - 1, -1, -1):
        resp = await axon_user.client.get("workflows")
        assert resp.status == 200 and rate(resp)[1] == expected
    over = await axon_user.client.post("workflows", {"name": "one too many"})
    assert over.status == 429
    assert over.error_code == "RATE_LIMITED"
    err = over.json()["error"]
    assert err["details"]["limit"] == LIMIT and err["details"]["retry_after"] >= 1
    assert int(over.headers["Retry-After"]) == err["details"]["retry_after"]
    assert rate(over)[:2] == (LIMIT, 0)
    assert over.headers["X-Request-Id"]
    # the refused write did not happen
    user = await axon_runtime.store.get_user(axon_user.id)
    page = await axon_runtime.store.list_workflows(
        user.id, page=1, limit=10, status=None, search=None
    )
    assert page.total == 0
    # ... and a refused request costs nothing: the budget is still exactly spent, not overdrawn
    decision = axon_runtime.limiter.peek(user)
    assert decision.remaining == 0 and not decision.allowed


async def test_one_budget_across_api_key_and_jwt(axon_user, axon_runtime, axon_client):
    user = await axon_runtime.store.get_user(axon_user.id)
    _, key = await axon_runtime.auth.create_api_key(user, {"name": "k"})
    by_key, by_jwt = axon_client.api_key(key), axon_user.client
    seen = []
    for client in (by_jwt, by_key, by_jwt, by_key, by_jwt):
        resp = await client.get("workflows")
        assert resp.status == 200
        seen.append(rate(resp)[1])
    assert seen == [4, 3, 2, 1, 0]
    for client in (by_key, by_jwt):
        resp = await client.get("workflows")
        assert resp.status == 429 and resp.error_code == "RATE_LIMITED"
    # another user's budget is untouched
    bob = await axon_runtime.auth.create_user("bob@example.com", "correct-horse-battery")
    login = await axon_client.post(
        "auth/login", {"email": bob.email, "password": "correct-horse-battery"}
    )
    resp = await axon_client.bearer(login.json()["token"]).get("workflows")
    assert resp.status == 200 and rate(resp)[1] == LIMIT - 1


async def test_plans_and_per_user_overrides(axon_user_factory, axon_runtime, axon_jupyter_client):
    pro = await axon_user_factory("pro@example.com", plan="pro")
    assert rate(await pro.client.get("workflows"))[0] == 10000
    enterprise = await axon_user_factory("big@example.com", plan="enterprise")
    assert rate(await enterprise.client.get("workflows"))[0] == 100000
    custom = await axon_user_factory("custom@example.com")
    record = await axon_runtime.store.get_user(custom.id)
    record.rate_limit = 2
    await axon_runtime.store.update_user(record)
    first = await custom.client.get("workflows")
    assert rate(first)[:2] == (2, 1)
    assert (await custom.client.get("workflows")).status == 200
    assert (await custom.client.get("workflows")).status == 429
    # the Jupyter identity is counted too, on the enterprise budget the owner account gets
    owner = await axon_jupyter_client.get("workflows")
    assert owner.status == 200 and rate(owner)[0] == 100000
    assert rate(await axon_jupyter_client.get("workflows"))[1] == 100000 - 2


async def test_oauth_tokens_share_the_users_budget(axon_client, axon_admin, axon_user):
    from test_oauth import code_tokens, register

    app = await register(axon_admin, client_type="public")
    tokens = await code_tokens(axon_client, axon_user, app)
    assert rate(await axon_user.client.get("workflows"))[1] == LIMIT - 1
    via_oauth = await axon_client.bearer(tokens["access_token"]).get("workflows")
    assert via_oauth.status == 200 and rate(via_oauth)[1] == LIMIT - 2


async def test_rest_graphql_and_websocket_messages_share_one_budget(axon_client, axon_user):
    import asyncio
    import json

    from websockets.asyncio.client import connect

    rest = await axon_user.client.get("workflows")
    assert rate(rest)[1] == LIMIT - 1
    gql = await axon_user.client.post("graphql", {"query": "{ workflows { id } }"})
    assert gql.status == 200 and rate(gql)[1] == LIMIT - 2  # one operation, one request
    url = axon_client.server_url.replace("http://", "ws://", 1) + "/axon/v1/ws"
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": axon_user.token}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "auth_ok"
        answers = []
        for _ in range(LIMIT - 1):  # the remaining budget (3), then one over it
            await ws.send(json.dumps({"type": "ping"}))
            answers.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
    assert [a["type"] for a in answers] == ["pong", "pong", "pong", "error"]
    assert answers[-1]["data"]["code"] == "RATE_LIMITED"
    after = await axon_user.client.get("workflows")
    assert after.status == 429 and after.error_code == "RATE_LIMITED"
