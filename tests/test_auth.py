"""Login, tokens, refresh rotation, logout, API keys, Jupyter identity, XSRF."""

import time

import jwt
import pytest

from axon_jupyter.auth.tokens import ISSUER


async def test_login_returns_seed_shape_plus_refresh(axon_client, axon_user):
    resp = await axon_client.post(
        "auth/login", {"email": axon_user.email, "password": axon_user.password}
    )
    assert resp.status == 200
    data = resp.json()
    assert data["expires_in"] == 3600
    assert data["user"] == {"id": axon_user.id, "email": axon_user.email, "name": "alice"}
    assert data["token"].startswith("ey") and data["refresh_token"].startswith("ey")
    claims = jwt.decode(data["token"], options={"verify_signature": False})
    assert {"exp", "iat", "sub", "jti", "typ"} <= set(claims) and claims["typ"] == "access"


async def test_wrong_password_and_unknown_email_answer_the_same(axon_client, axon_user):
    wrong = await axon_client.post(
        "auth/login", {"email": axon_user.email, "password": "nope-nope"}
    )
    unknown = await axon_client.post(
        "auth/login", {"email": "ghost@example.com", "password": "nope-nope"}
    )
    assert wrong.status == unknown.status == 401
    assert wrong.json() == unknown.json()
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "body,field",
    [({}, "email"), ({"email": "a@b.c"}, "password"), ({"email": 3, "password": "x"}, "email")],
)
async def test_login_validation(axon_client, body, field):
    resp = await axon_client.post("auth/login", body)
    assert resp.status == 400
    assert resp.error_code == "VALIDATION_ERROR"
    assert resp.json()["error"]["details"]["field"] == field


def _forge(claims: dict, secret: str, alg: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=alg)


async def test_bad_tokens_are_401(axon_client, axon_user, axon_runtime):
    now = int(time.time())
    base = {"iss": ISSUER, "sub": axon_user.id, "iat": now, "exp": now + 60, "jti": "j1"}
    secret = axon_runtime.config.jwt_secret
    none_token = jwt.encode({**base, "typ": "access"}, None, algorithm="none")
    cases = {
        "missing": {},
        "garbage": {"Authorization": "Bearer not-a-token"},
        "expired": {
            "Authorization": "Bearer "
            + _forge({**base, "typ": "access", "exp": now - 10, "iat": now - 100}, secret)
        },
        "alg none": {"Authorization": "Bearer " + none_token},
        "wrong secret": {"Authorization": "Bearer " + _forge({**base, "typ": "access"}, "x" * 40)},
        "no typ": {"Authorization": "Bearer " + _forge(base, secret)},
        "refresh as access": {"Authorization": f"Bearer {axon_user.refresh_token}"},
        "bad api key": {"X-API-Key": "axon_not-a-real-key"},
    }
    for name, headers in cases.items():
        resp = await axon_client.anonymous().get("workflows", headers=headers)
        assert resp.status == 401, name
        assert resp.error_code == "UNAUTHORIZED", name
        assert resp.headers["WWW-Authenticate"].startswith("Bearer"), name
    expired = await axon_client.get("workflows", headers=cases["expired"])
    assert expired.json()["error"]["details"]["reason"] == "token_expired"
    # a correctly signed token works, so the cases above fail for their own reason
    good = _forge({**base, "typ": "access"}, secret)
    assert (await axon_client.bearer(good).get("workflows")).status == 200


async def test_logout_revokes_access_token_and_refresh_family(axon_client, axon_user):
    assert (await axon_user.client.get("auth/me")).status == 200
    resp = await axon_user.client.post("auth/logout")
    assert resp.status == 204
    after = await axon_user.client.get("auth/me")
    assert after.status == 401
    assert after.json()["error"]["details"]["reason"] == "token_revoked"
    refreshed = await axon_client.post("auth/refresh", {"refresh_token": axon_user.refresh_token})
    assert refreshed.status == 401


async def test_refresh_rotates_and_reuse_revokes_family(axon_client, axon_user):
    first = await axon_client.post("auth/refresh", {"refresh_token": axon_user.refresh_token})
    assert first.status == 200
    rotated = first.json()
    assert rotated["refresh_token"] != axon_user.refresh_token
    assert (await axon_client.bearer(rotated["token"]).get("auth/me")).status == 200
    # the old refresh token comes back: reuse is detected and the whole family dies
    reuse = await axon_client.post("auth/refresh", {"refresh_token": axon_user.refresh_token})
    assert reuse.status == 401
    assert reuse.json()["error"]["details"]["reason"] == "token_reused"
    again = await axon_client.post("auth/refresh", {"refresh_token": rotated["refresh_token"]})
    assert again.status == 401
    assert (await axon_client.bearer(rotated["token"]).get("auth/me")).status == 401
    # an access token cannot be used as a refresh token
    fresh = await axon_client.post(
        "auth/login", {"email": axon_user.email, "password": axon_user.password}
    )
    wrong_typ = await axon_client.post("auth/refresh", {"refresh_token": fresh.json()["token"]})
    assert wrong_typ.status == 401


async def test_api_key_lifecycle(axon_client, axon_user):
    created = await axon_user.client.post("api-keys", {"name": "ci", "scopes": ["workflows:read"]})
    assert created.status == 201
    key = created.json()["key"]
    assert key.startswith("axon_") and created.json()["scopes"] == ["workflows:read"]
    assert created.headers["Location"].endswith(created.json()["id"])
    listed = (await axon_user.client.get("api-keys")).json()["api_keys"]
    assert [k["id"] for k in listed] == [created.json()["id"]]
    assert "key" not in listed[0] and "key_hash" not in listed[0]
    as_key = axon_client.api_key(key)
    assert (await as_key.get("workflows")).status == 200
    me = (await as_key.get("auth/me")).json()
    assert me["user"]["id"] == axon_user.id and me["via"] == "api_key"
    # scope enforcement: a read-only key cannot create
    denied = await as_key.post("workflows", {"name": "x"})
    assert denied.status == 403 and denied.json()["error"]["details"]["scope"] == "workflows:write"
    assert (await axon_user.client.get("workflows")).json()["pagination"]["total"] == 0
    revoked = await axon_user.client.delete(f"api-keys/{created.json()['id']}")
    assert revoked.status == 204
    after = await as_key.get("workflows")
    assert after.status == 401 and after.json()["error"]["details"]["reason"] == "api_key_revoked"
    again = await axon_user.client.delete(f"api-keys/{created.json()['id']}")
    assert again.status == 404


async def test_api_key_validation(axon_user):
    for body, field in [
        ({"scopes": ["bogus"]}, "scopes"),
        ({"scopes": ["admin"]}, "scopes"),
        ({"scopes": "workflows:read"}, "scopes"),
        ({"name": ""}, "name"),
        ({"expires_in_days": 0}, "expires_in_days"),
        ({"colour": "red"}, "colour"),
    ]:
        resp = await axon_user.client.post("api-keys", body)
        assert resp.status == 400, body
        assert resp.json()["error"]["details"]["field"] == field
    assert (await axon_user.client.get("api-keys")).json()["api_keys"] == []


async def test_expired_api_key(axon_client, axon_user, axon_runtime):
    created = await axon_user.client.post("api-keys", {"expires_in_days": 1})
    key_id = created.json()["id"]
    await axon_runtime.store._write(
        "UPDATE api_keys SET expires_at = ? WHERE id = ?", (time.time() - 1, key_id)
    )
    resp = await axon_client.api_key(created.json()["key"]).get("workflows")
    assert resp.status == 401
    assert resp.json()["error"]["details"]["reason"] == "api_key_expired"


async def test_jupyter_identity_acts_as_owner(axon_jupyter_client, axon_runtime):
    me = await axon_jupyter_client.get("auth/me")
    assert me.status == 200
    assert me.json()["via"] == "jupyter"
    assert me.json()["user"]["role"] == "admin"
    created = await axon_jupyter_client.post("workflows", {"name": "from notebook"})
    assert created.status == 201
    owner = await axon_runtime.owner()
    wf = await axon_runtime.store.get_workflow(owner.id, created.json()["id"])
    assert wf is not None and wf.name == "from notebook"


async def test_cookie_requests_still_need_xsrf(axon_client, jp_serverapp, axon_user):
    """A browser-style request (login cookie, no Axon header) must carry XSRF on writes."""
    token = jp_serverapp.identity_provider.token
    login = await axon_client.request(
        "GET", f"{axon_client.base_path}/login?token={token}", follow_redirects=False
    )
    cookies = [v.split(";")[0] for v in login.headers.get_list("Set-Cookie")]
    # double-submit XSRF: the header must repeat the _xsrf cookie (tornado's v1 hex form)
    xsrf = "5e" * 16
    cookie = "; ".join([*cookies, f"_xsrf={xsrf}"])
    browser = axon_client.anonymous().with_headers({"Cookie": cookie})
    assert (await browser.get("auth/me")).json()["via"] == "jupyter"
    no_xsrf = await browser.post("workflows", {"name": "csrf"})
    assert no_xsrf.status == 403
    with_xsrf = await browser.post("workflows", {"name": "ok"}, headers={"X-XSRFToken": xsrf})
    assert with_xsrf.status == 201
    # an Axon header credential needs no XSRF, even next to a cookie, and acts as its owner
    bearer = await browser.post(
        "workflows", {"name": "api"}, headers={"Authorization": f"Bearer {axon_user.token}"}
    )
    assert bearer.status == 201
    assert (await axon_user.client.get("workflows")).json()["pagination"]["total"] == 1


@pytest.fixture
def axon_config():
    return {"trust_jupyter_identity": True}


async def test_untrusted_jupyter_identity(jp_serverapp, axon_jupyter_client, axon_runtime):
    axon_runtime.config.trust_jupyter_identity = False
    try:
        resp = await axon_jupyter_client.get("workflows")
        assert resp.status == 401
    finally:
        axon_runtime.config.trust_jupyter_identity = True


class TestRevocationByAnotherProcess:
    """Another process on the same database (an embedded kernel server) revokes a token:
    this server honours it within token_cache_seconds; its own revocations at once."""

    @pytest.fixture
    def axon_config(self):
        return {"token_cache_seconds": 0.3}

    async def test_foreign_revocation_applies_within_the_cache_time(self, axon_user, axon_runtime):
        import asyncio
        import sqlite3

        assert (await axon_user.client.get("auth/me")).status == 200
        claims = axon_runtime.signer.decode(axon_user.token, "access")
        with sqlite3.connect(axon_runtime.store.path) as other:  # not through this server
            other.execute(
                "INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?)",
                (claims.jti, claims.exp),
            )
        await asyncio.sleep(0.4)
        resp = await axon_user.client.get("auth/me")
        assert resp.status == 401
        assert resp.json()["error"]["details"]["reason"] == "token_revoked"
