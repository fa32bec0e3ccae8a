"""Authorization codes are short-lived: an expired one is invalid_grant."""

import asyncio

import pytest
from test_oauth import REDIRECT, authorize_code, pkce_pair, post_token, register

CODE_TTL = 0.5


@pytest.fixture
def axon_config():
    return {"oauth_code_ttl": CODE_TTL}


async def test_an_expired_code_is_refused(axon_client, axon_admin, axon_user, axon_runtime):
    app = await register(axon_admin, client_type="public")
    verifier, _ = pkce_pair()
    code, _ = await authorize_code(
        axon_client, axon_user, app["client_id"], scope="workflows:read", verifier=verifier
    )
    stored = await axon_runtime.store._read("SELECT expires_at - created_at FROM oauth_codes")
    assert stored == [(pytest.approx(CODE_TTL),)]
    await asyncio.sleep(CODE_TTL + 0.1)
    resp = await post_token(
        axon_client,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": app["client_id"],
            "code_verifier": verifier,
        },
    )
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_grant"
    assert await axon_runtime.store._read("SELECT * FROM oauth_refresh_tokens") == []
