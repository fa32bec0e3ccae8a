"""OAuth 2.0 authorization server, driven as a real third-party client would drive it.

The client side is authlib's httpx client against the live test server; the resource
owner's browser is an httpx client with a cookie jar that reads the consent page and
submits its form (with the page's `_xsrf` token).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import urllib.parse
import warnings
from html.parser import HTMLParser

import httpx

REDIRECT = "http://127.0.0.1:9/callback"


# ------------------------------------------------------------------ helpers
class _FormReader(HTMLParser):
    """The consent page's form: its action and its input fields."""

    def __init__(self):
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.action = attrs.get("action")
        elif tag == "input" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""

    def handle_data(self, data):
        self.text.append(data)


def read_form(html: str) -> _FormReader:
    reader = _FormReader()
    reader.feed(html)
    return reader


def oauth_client_class():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # authlib flags its own httpx shim as deprecated
        from authlib.integrations.httpx_client import AsyncOAuth2Client
    return AsyncOAuth2Client


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


async def register(admin, **body) -> dict:
    body.setdefault("name", "Test app")
    body.setdefault("redirect_uris", [REDIRECT])
    resp = await admin.client.post("oauth/clients", body)
    assert resp.status == 201, resp
    return resp.json()


def endpoints(axon_client) -> dict[str, str]:
    base = axon_client.api_url
    return {
        "authorize": f"{base}/oauth/authorize",
        "token": f"{base}/oauth/token",
        "revoke": f"{base}/oauth/revoke",
    }


async def consent(
    browser: httpx.AsyncClient,
    url: str,
    *,
    email: str | None = None,
    password: str | None = None,
    decision: str = "approve",
    drop_xsrf: bool = False,
) -> httpx.Response:
    """Open the consent page at `url`, fill it in, submit it; return the answer."""
    page = await browser.get(url)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    form = read_form(page.text)
    assert form.action and "_xsrf" in form.fields
    fields = {"_xsrf": form.fields["_xsrf"], "decision": decision}
    if drop_xsrf:
        del fields["_xsrf"]
    if email is not None:
        fields["email"], fields["password"] = email, password or ""
    target = urllib.parse.urljoin(str(page.url), form.action)
    return await browser.post(target, data=fields)


def query_of(location: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


async def authorize_code(axon_client, user, client_id: str, *, scope: str, verifier=None):
    """Run the browser part for `user`; return (code, redirect query, challenge used)."""
    _, challenge = pkce_pair() if verifier is None else (None, _challenge(verifier))
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "st-" + secrets.token_hex(4),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    url = endpoints(axon_client)["authorize"] + "?" + urllib.parse.urlencode(params)
    async with httpx.AsyncClient() as browser:
        answer = await consent(browser, url, email=user.email, password=user.password)
    assert answer.status_code == 302, answer.text
    query = query_of(answer.headers["location"])
    assert query["state"] == params["state"]
    return query["code"], query


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def post_token(axon_client, form: dict, auth: tuple[str, str] | None = None):
    async with httpx.AsyncClient() as http:
        return await http.post(endpoints(axon_client)["token"], data=form, auth=auth)


async def code_tokens(axon_client, user, client: dict, scope="workflows:read") -> dict:
    verifier, _ = pkce_pair()
    code, _ = await authorize_code(
        axon_client, user, client["client_id"], scope=scope, verifier=verifier
    )
    resp = await post_token(
        axon_client,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": client["client_id"],
            "code_verifier": verifier,
        },
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


# ------------------------------------------------------------------ the full flow
async def test_authorization_code_with_pkce_end_to_end(
    axon_client, axon_admin, axon_user, axon_runtime
):
    app = await register(
        axon_admin, client_type="public", scopes=["workflows:read", "workflows:write"]
    )
    assert "client_secret" not in app and app["token_endpoint_auth_method"] == "none"
    async with httpx.AsyncClient() as http:
        meta = (
            await http.get(f"{axon_client.api_url}/.well-known/oauth-authorization-server")
        ).json()
    Client = oauth_client_class()
    verifier = secrets.token_urlsafe(64)
    async with Client(
        client_id=app["client_id"],
        redirect_uri=REDIRECT,
        scope="workflows:read workflows:write",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    ) as client:
        url, state = client.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier
        )
        async with httpx.AsyncClient() as browser:
            answer = await consent(browser, url, email=axon_user.email, password=axon_user.password)
        assert answer.status_code == 302
        location = answer.headers["location"]
        assert location.startswith(REDIRECT + "?")
        assert query_of(location)["state"] == state
        token = await client.fetch_token(
            meta["token_endpoint"], authorization_response=location, code_verifier=verifier
        )
        assert token["token_type"] == "Bearer"
        assert token["scope"] == "workflows:read workflows:write"
        assert token["refresh_token"].startswith("axrt_")
        assert token["expires_in"] == axon_runtime.signer.access_ttl

        # the access token is a Bearer JWT accepted by the API, as alice, via OAuth
        me = await client.get(f"{axon_client.api_url}/auth/me")
        assert me.status_code == 200
        assert me.json()["user"]["id"] == axon_user.id and me.json()["via"] == "oauth"
        created = await client.post(f"{axon_client.api_url}/workflows", json={"name": "via-oauth"})
        assert created.status_code == 201, created.text
        assert "X-RateLimit-Remaining" in created.headers
    listed = await axon_user.client.get("workflows")
    assert [w["name"] for w in listed.json()["workflows"]] == ["via-oauth"]
    # only digests are stored: neither the code nor the refresh token is in the database
    rows = await axon_runtime.store._read("SELECT code_hash, used_at FROM oauth_codes")
    assert len(rows) == 1 and rows[0][1] is not None
    stored = await axon_runtime.store._read("SELECT token_hash FROM oauth_refresh_tokens")
    assert [r[0] for r in stored] == [hashlib.sha256(token["refresh_token"].encode()).hexdigest()]


async def test_confidential_client_authenticates_with_its_secret(
    axon_client, axon_admin, axon_user
):
    app = await register(axon_admin, scopes=["workflows:read"])
    secret = app["client_secret"]
    assert secret.startswith("axcs_")
    shown = await axon_admin.client.get(f"oauth/clients/{app['client_id']}")
    assert shown.status == 200 and "client_secret" not in shown.json()  # shown once
    Client = oauth_client_class()
    async with Client(
        client_id=app["client_id"],
        client_secret=secret,
        redirect_uri=REDIRECT,
        scope="workflows:read",
        token_endpoint_auth_method="client_secret_basic",
    ) as client:
        url, _ = client.create_authorization_url(endpoints(axon_client)["authorize"])
        async with httpx.AsyncClient() as browser:
            answer = await consent(browser, url, email=axon_user.email, password=axon_user.password)
        token = await client.fetch_token(
            endpoints(axon_client)["token"], authorization_response=answer.headers["location"]
        )
        assert token["scope"] == "workflows:read"
        assert (await client.get(f"{axon_client.api_url}/workflows")).status_code == 200
        denied = await client.post(f"{axon_client.api_url}/workflows", json={"name": "x"})
        assert denied.status_code == 403
        assert denied.json()["error"]["details"]["scope"] == "workflows:write"
    # the same code flow with a wrong secret: 401 invalid_client, RFC 6749 JSON
    code, _ = await authorize_code(axon_client, axon_user, app["client_id"], scope="workflows:read")
    bad = await post_token(
        axon_client,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        auth=(app["client_id"], "axcs_wrong"),
    )
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_client"
    assert bad.headers["cache-control"] == "no-store"


# ------------------------------------------------------------------ refusals
async def test_public_client_must_use_s256_pkce(axon_client, axon_admin, axon_runtime):
    app = await register(axon_admin, client_type="public")
    base = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": REDIRECT,
        "state": "s1",
    }
    _, challenge = pkce_pair()
    cases = {
        "missing": {},
        "plain": {"code_challenge": challenge, "code_challenge_method": "plain"},
        "method omitted (means plain)": {"code_challenge": challenge},
    }
    async with httpx.AsyncClient() as browser:
        for label, extra in cases.items():
            url = (
                endpoints(axon_client)["authorize"]
                + "?"
                + urllib.parse.urlencode({**base, **extra})
            )
            resp = await browser.get(url)
            assert resp.status_code == 302, label
            query = query_of(resp.headers["location"])
            assert query["error"] == "invalid_request", label
            assert query["state"] == "s1"
            assert "code" not in query
    assert await axon_runtime.store._read("SELECT * FROM oauth_codes") == []


async def test_wrong_redirect_uri_is_never_redirected_to(
    axon_client, axon_admin, axon_user, axon_runtime
):
    app = await register(axon_admin, client_type="public")
    _, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": "http://127.0.0.1:9/callback/evil",  # a prefix match is not a match
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    async with httpx.AsyncClient() as browser:
        resp = await browser.get(
            endpoints(axon_client)["authorize"] + "?" + urllib.parse.urlencode(params)
        )
        assert resp.status_code == 400
        assert "location" not in resp.headers
        assert "invalid_request" in resp.text and resp.headers["content-type"].startswith(
            "text/html"
        )
        unknown = await browser.get(
            endpoints(axon_client)["authorize"]
            + "?"
            + urllib.parse.urlencode(
                {**params, "client_id": "client_nope", "redirect_uri": REDIRECT}
            )
        )
        assert unknown.status_code == 400 and "invalid_client" in unknown.text
    # a code bound to one redirect URI cannot be exchanged with another
    verifier, _ = pkce_pair()
    code, _ = await authorize_code(
        axon_client, axon_user, app["client_id"], scope="workflows:read", verifier=verifier
    )
    resp = await post_token(
        axon_client,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1:9/other",
            "client_id": app["client_id"],
            "code_verifier": verifier,
        },
    )
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"
    assert await axon_runtime.store._read("SELECT * FROM oauth_refresh_tokens") == []


async def test_wrong_verifier_is_invalid_grant(axon_client, axon_admin, axon_user, axon_runtime):
    app = await register(axon_admin, client_type="public")
    verifier, _ = pkce_pair()
    code, _ = await authorize_code(
        axon_client, axon_user, app["client_id"], scope="workflows:read", verifier=verifier
    )
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": app["client_id"],
    }
    wrong = await post_token(axon_client, {**form, "code_verifier": secrets.token_urlsafe(48)})
    assert wrong.status_code == 400
    assert wrong.json() == {"error": "invalid_grant", "error_description": "Code challenge failed."}
    missing = await post_token(axon_client, form)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    assert await axon_runtime.store._read("SELECT * FROM oauth_refresh_tokens") == []


async def test_reused_code_is_refused_and_revokes_what_it_issued(
    axon_client, axon_admin, axon_user
):
    app = await register(axon_admin, client_type="public")
    verifier, _ = pkce_pair()
    code, _ = await authorize_code(
        axon_client, axon_user, app["client_id"], scope="workflows:read", verifier=verifier
    )
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": app["client_id"],
        "code_verifier": verifier,
    }
    first = await post_token(axon_client, form)
    assert first.status_code == 200
    token = first.json()
    assert (await axon_client.bearer(token["access_token"]).get("workflows")).status == 200
    again = await post_token(axon_client, form)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    # RFC 6749 4.1.2: the tokens issued for the replayed code are revoked
    revoked = await axon_client.bearer(token["access_token"]).get("workflows")
    assert revoked.status == 401 and revoked.error_code == "UNAUTHORIZED"
    refresh = await post_token(
        axon_client,
        {
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": app["client_id"],
        },
    )
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


async def test_denied_consent_redirects_with_access_denied(axon_client, axon_admin, axon_runtime):
    app = await register(axon_admin, client_type="public")
    _, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": REDIRECT,
        "state": "keep-me",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    async with httpx.AsyncClient() as browser:
        answer = await consent(
            browser,
            endpoints(axon_client)["authorize"] + "?" + urllib.parse.urlencode(params),
            decision="deny",
        )
    assert answer.status_code == 302
    assert query_of(answer.headers["location"]) == {
        "error": "access_denied",
        "error_description": "The resource owner or authorization server denied the request",
        "state": "keep-me",
    }
    assert await axon_runtime.store._read("SELECT * FROM oauth_codes") == []


async def test_consent_form_needs_its_csrf_token_and_a_real_sign_in(
    axon_client, axon_admin, axon_user, axon_runtime
):
    app = await register(axon_admin, client_type="public")
    _, challenge = pkce_pair()
    url = (
        endpoints(axon_client)["authorize"]
        + "?"
        + urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": app["client_id"],
                "redirect_uri": REDIRECT,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
    )
    async with httpx.AsyncClient() as browser:
        forged = await consent(
            browser, url, email=axon_user.email, password=axon_user.password, drop_xsrf=True
        )
        assert forged.status_code == 403 and "location" not in forged.headers
        wrong = await consent(browser, url, email=axon_user.email, password="not-the-password")
        assert wrong.status_code == 401 and "location" not in wrong.headers
        page = read_form(wrong.text)
        assert "Invalid email or password" in "".join(page.text)
        assert page.fields["email"] == axon_user.email and page.fields["password"] == ""
    assert await axon_runtime.store._read("SELECT * FROM oauth_codes") == []


async def test_signed_in_through_jupyter_the_page_only_asks_for_consent(
    axon_client, axon_admin, jp_auth_header, axon_runtime
):
    app = await register(axon_admin, client_type="public", scopes=["workflows:read"])
    verifier, challenge = pkce_pair()
    url = (
        endpoints(axon_client)["authorize"]
        + "?"
        + urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": app["client_id"],
                "redirect_uri": REDIRECT,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
    )
    async with httpx.AsyncClient(headers=jp_auth_header) as browser:
        page = await browser.get(url)
        form = read_form(page.text)
        assert "password" not in form.fields and "Signed in as" in "".join(form.text)
        answer = await consent(browser, url)
    code = query_of(answer.headers["location"])["code"]
    token = await post_token(
        axon_client,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": app["client_id"],
            "code_verifier": verifier,
        },
    )
    owner = await axon_runtime.owner()
    me = await axon_client.bearer(token.json()["access_token"]).get("auth/me")
    assert me.json()["user"]["id"] == owner.id


async def test_unsupported_grants_and_response_types(axon_client, axon_admin, axon_user):
    app = await register(axon_admin)
    auth = (app["client_id"], app["client_secret"])
    password = await post_token(
        axon_client,
        {"grant_type": "password", "username": axon_user.email, "password": axon_user.password},
        auth,
    )
    assert password.status_code == 400 and password.json()["error"] == "unsupported_grant_type"
    async with httpx.AsyncClient() as browser:
        implicit = await browser.get(
            endpoints(axon_client)["authorize"]
            + "?"
            + urllib.parse.urlencode(
                {"response_type": "token", "client_id": app["client_id"], "redirect_uri": REDIRECT}
            )
        )
    assert implicit.status_code == 302
    assert query_of(implicit.headers["location"])["error"] == "unsupported_response_type"
    json_body = await axon_client.request(
        "POST",
        "oauth/token",
        body='{"grant_type": "client_credentials"}',
        headers={"Content-Type": "application/json"},
    )
    assert json_body.status == 400 and json_body.json()["error"] == "invalid_request"


# ------------------------------------------------------------------ other grants
async def test_client_credentials_act_as_the_owner_within_the_clients_scopes(
    axon_client, axon_admin, axon_user, axon_runtime
):
    await axon_user.client.post("workflows", {"name": "alices"})
    app = await register(
        axon_admin,
        owner_id=axon_user.id,
        scopes=["workflows:read"],
        redirect_uris=[],
        grant_types=["client_credentials"],
    )
    assert app["owner_id"] == axon_user.id
    auth = (app["client_id"], app["client_secret"])
    resp = await post_token(axon_client, {"grant_type": "client_credentials"}, auth)
    assert resp.status_code == 200, resp.text
    token = resp.json()
    assert token["scope"] == "workflows:read" and "refresh_token" not in token
    as_client = axon_client.bearer(token["access_token"])
    listed = await as_client.get("workflows")
    assert [w["name"] for w in listed.json()["workflows"]] == ["alices"]
    write = await as_client.post("workflows", {"name": "nope"})
    assert write.status == 403 and write.error_code == "FORBIDDEN"
    assert "workflows:write" in write.json()["error"]["message"]
    # asking for more than the client may hold
    wider = await post_token(
        axon_client, {"grant_type": "client_credentials", "scope": "workflows:write"}, auth
    )
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
    # client_secret_post works too; a wrong secret does not
    post = await post_token(
        axon_client,
        {
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
        },
    )
    assert post.status_code == 200
    wrong = await post_token(
        axon_client, {"grant_type": "client_credentials"}, (app["client_id"], "axcs_x")
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")
    # deleting the client ends every token it was issued
    assert (await axon_admin.client.delete(f"oauth/clients/{app['client_id']}")).status == 204
    gone = await as_client.get("workflows")
    assert gone.status == 401
    assert (await axon_admin.client.get(f"oauth/clients/{app['client_id']}")).status == 404


async def test_public_clients_cannot_use_client_credentials(axon_client, axon_admin):
    bad = await axon_admin.client.post(
        "oauth/clients",
        {
            "name": "spa",
            "client_type": "public",
            "grant_types": ["client_credentials"],
            "redirect_uris": [REDIRECT],
        },
    )
    assert bad.status == 400 and bad.json()["error"]["details"]["field"] == "grant_types"
    app = await register(axon_admin, client_type="public")
    resp = await post_token(
        axon_client, {"grant_type": "client_credentials", "client_id": app["client_id"]}
    )
    assert resp.status_code in (400, 401) and resp.json()["error"] in (
        "invalid_client",
        "unauthorized_client",
    )


async def test_refresh_rotation_and_reuse_revokes_the_family(
    axon_client, axon_admin, axon_user, axon_runtime
):
    app = await register(axon_admin, client_type="public")
    first = await code_tokens(axon_client, axon_user, app)
    rotate = {"grant_type": "refresh_token", "client_id": app["client_id"]}
    second = await post_token(axon_client, {**rotate, "refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    second = second.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["scope"] == "workflows:read"
    assert (await axon_client.bearer(second["access_token"]).get("workflows")).status == 200
    # narrowing is allowed, widening is not
    wider = await post_token(
        axon_client,
        {**rotate, "refresh_token": second["refresh_token"], "scope": "workflows:write"},
    )
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
    # the first refresh token comes back: someone copied it; the whole grant ends
    reuse = await post_token(axon_client, {**rotate, "refresh_token": first["refresh_token"]})
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    after = await post_token(axon_client, {**rotate, "refresh_token": second["refresh_token"]})
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant"
    assert (await axon_client.bearer(second["access_token"]).get("workflows")).status == 401
    rows = await axon_runtime.store._read("SELECT revoked_at FROM oauth_refresh_tokens")
    assert len(rows) == 2 and all(r[0] is not None for r in rows)
    # another client cannot use this client's refresh token
    other = await register(axon_admin, client_type="public")
    fresh = await code_tokens(axon_client, axon_user, app)
    stolen = await post_token(
        axon_client,
        {
            "grant_type": "refresh_token",
            "client_id": other["client_id"],
            "refresh_token": fresh["refresh_token"],
        },
    )
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"


async def test_revocation(axon_client, axon_admin, axon_user):
    app = await register(axon_admin, client_type="public")
    revoke = endpoints(axon_client)["revoke"]
    async with httpx.AsyncClient() as http:
        tokens = await code_tokens(axon_client, axon_user, app)
        resp = await http.post(
            revoke, data={"token": tokens["access_token"], "client_id": app["client_id"]}
        )
        assert resp.status_code == 200
        assert (await axon_client.bearer(tokens["access_token"]).get("workflows")).status == 401
        # revoking the refresh token ends the grant: its access tokens too
        tokens = await code_tokens(axon_client, axon_user, app)
        resp = await http.post(
            revoke,
            data={
                "token": tokens["refresh_token"],
                "token_type_hint": "refresh_token",
                "client_id": app["client_id"],
            },
        )
        assert resp.status_code == 200
        assert (await axon_client.bearer(tokens["access_token"]).get("workflows")).status == 401
        refresh = await post_token(
            axon_client,
            {
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": app["client_id"],
            },
        )
        assert refresh.json()["error"] == "invalid_grant"
        # unknown tokens: 200 and nothing happens (RFC 7009 2.2)
        unknown = await http.post(
            revoke, data={"token": "axrt_unknown", "client_id": app["client_id"]}
        )
        assert unknown.status_code == 200
        # a login token is not this client's to revoke
        login = await http.post(
            revoke, data={"token": axon_user.token, "client_id": app["client_id"]}
        )
        assert login.status_code == 400 and login.json()["error"] == "invalid_grant"
    assert (await axon_user.client.get("workflows")).status == 200


# ------------------------------------------------------------------ discovery and registry
async def test_metadata_is_served_under_the_api_and_at_the_root(axon_client):
    from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

    urls = [
        f"{axon_client.api_url}/.well-known/oauth-authorization-server",
        f"{axon_client.server_url}/.well-known/oauth-authorization-server",
        f"{axon_client.server_url}/.well-known/oauth-authorization-server/axon/v1",
    ]
    async with httpx.AsyncClient() as http:
        docs = [(await http.get(url)) for url in urls]
    assert all(d.status_code == 200 for d in docs)
    meta = docs[0].json()
    assert all(d.json() == meta for d in docs)
    AuthorizationServerMetadata(meta).validate()
    assert meta["issuer"] == axon_client.api_url
    assert meta["token_endpoint"] == f"{axon_client.api_url}/oauth/token"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert set(meta["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }
    assert meta["response_types_supported"] == ["code"]


async def test_client_registry_rules(
    axon_client, axon_admin, axon_user, axon_other_user, axon_runtime
):
    member = await axon_user.client.post(
        "oauth/clients", {"name": "x", "redirect_uris": [REDIRECT]}
    )
    assert member.status == 403 and member.error_code == "FORBIDDEN"
    bad_uris = {
        "http://example.com/cb": "must use https",
        "https://example.com/cb#frag": "fragment",
        "javascript:alert(1)": "reverse-domain",
        "/relative": "reverse-domain",
    }
    for uri, issue in bad_uris.items():
        resp = await axon_admin.client.post("oauth/clients", {"name": "x", "redirect_uris": [uri]})
        assert resp.status == 400, uri
        assert resp.json()["error"]["details"]["field"] == "redirect_uris[0]"
        assert issue in resp.json()["error"]["details"]["issue"], uri
    for body, field in [
        ({"redirect_uris": [REDIRECT]}, "name"),
        ({"name": "x"}, "redirect_uris"),
        ({"name": "x", "redirect_uris": [REDIRECT], "scopes": ["everything"]}, "scopes"),
        ({"name": "x", "redirect_uris": [REDIRECT], "owner_id": "user_nope"}, "owner_id"),
        (
            {
                "name": "x",
                "redirect_uris": [REDIRECT],
                "owner_id": axon_user.id,
                "scopes": ["admin"],
            },
            "scopes",
        ),
        ({"name": "x", "redirect_uris": [REDIRECT], "color": "red"}, "color"),
    ]:
        resp = await axon_admin.client.post("oauth/clients", body)
        assert resp.status == 400 and resp.json()["error"]["details"]["field"] == field, (
            body,
            resp,
        )
    assert await axon_runtime.store.list_oauth_clients() == []
    native = await register(
        axon_admin,
        redirect_uris=["com.example.app:/oauth", "https://app.example.com/cb"],
        owner_id=axon_user.id,
    )
    assert native["redirect_uris"] == ["com.example.app:/oauth", "https://app.example.com/cb"]
    listed = await axon_admin.client.get("oauth/clients")
    assert [c["client_id"] for c in listed.json()["clients"]] == [native["client_id"]]
    # the owner sees their client; another member gets 404, like for any object of others
    assert (await axon_user.client.get(f"oauth/clients/{native['client_id']}")).status == 200
    assert (await axon_other_user.client.get(f"oauth/clients/{native['client_id']}")).status == 404
    assert (
        await axon_other_user.client.delete(f"oauth/clients/{native['client_id']}")
    ).status == 404
    assert (await axon_other_user.client.get("oauth/clients")).json() == {"clients": []}
    assert (await axon_user.client.delete(f"oauth/clients/{native['client_id']}")).status == 204
    assert await axon_runtime.store.list_oauth_clients() == []


async def test_granted_scopes_never_exceed_the_client_nor_the_user(
    axon_client, axon_admin, axon_user
):
    app = await register(axon_admin, client_type="public", scopes=["admin", "workflows:read"])
    # a member approving "admin workflows:read" delegates only what a member holds
    tokens = await code_tokens(axon_client, axon_user, app, scope="admin workflows:read")
    assert tokens["scope"] == "workflows:read"
    as_app = axon_client.bearer(tokens["access_token"])
    assert (await as_app.post("workflows", {"name": "x"})).status == 403
    # an admin approving the same request delegates admin
    admin_tokens = await code_tokens(axon_client, axon_admin, app, scope="admin workflows:read")
    assert admin_tokens["scope"] == "admin workflows:read"
    assert (
        await axon_client.bearer(admin_tokens["access_token"]).get("oauth/clients")
    ).status == 200
    # asking for a scope the client was not registered with: invalid_scope, back to the client
    _, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": REDIRECT,
        "scope": "workflows:write",
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    async with httpx.AsyncClient() as browser:
        resp = await browser.get(
            endpoints(axon_client)["authorize"] + "?" + urllib.parse.urlencode(params)
        )
    assert resp.status_code == 302
    assert query_of(resp.headers["location"])["error"] == "invalid_scope"
    # a member asked only for admin: nothing they can delegate
    async with httpx.AsyncClient() as browser:
        answer = await consent(
            browser,
            endpoints(axon_client)["authorize"]
            + "?"
            + urllib.parse.urlencode({**params, "scope": "admin"}),
            email=axon_user.email,
            password=axon_user.password,
        )
    assert answer.status_code == 302
    assert query_of(answer.headers["location"])["error"] == "invalid_scope"
