"""The SDK's retries, error mapping and token refresh against a real tiny HTTP server.

A small tornado app on a real socket answers what a production server answers in bad
moments (429 with Retry-After or X-RateLimit-Reset, 503, 500 without an envelope, slow
answers, expired tokens) and counts the requests it got, so each test asserts exactly
how many attempts the SDK made. Rate limiting against the Axon server itself is tested
in test_sdk_python.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections import Counter

import pytest
from axonos import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncAxonOS,
    AuthenticationError,
    AxonOS,
    ConflictError,
    InternalServerError,
    PayloadTooLargeError,
    RateLimitError,
    ServiceUnavailableError,
    ValidationError,
    error_from_response,
)
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

call = asyncio.to_thread


def envelope(code: str, message: str, **details) -> str:
    return json.dumps({"error": {"code": code, "message": message, "details": details}})


class Scenario(web.RequestHandler):
    """`/axon/v1/workflows/<scenario>`: fails as the scenario says, then answers 200."""

    def initialize(self, hits: Counter, state: dict) -> None:
        self.hits = hits
        self.state = state

    def workflow(self, ident: str) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"id": ident, "name": "ok", "status": "draft"}))

    def fail(self, status: int, body: str, **headers: str) -> None:
        self.set_status(status)
        for name, value in headers.items():
            self.set_header(name.replace("_", "-"), value)
        self.set_header("X-Request-Id", "req-123")
        self.finish(body)

    async def get(self, ident: str) -> None:
        await self.answer(ident)

    async def put(self, ident: str) -> None:
        await self.answer(ident)

    async def post(self, ident: str = "create") -> None:
        await self.answer(ident)

    async def answer(self, ident: str) -> None:
        self.hits[ident] += 1
        n = self.hits[ident]
        kind, _, rest = ident.partition("-")
        arg = rest.split("-")[0]  # "unavailable-1-post": kind, count, a tag for the counter
        if kind == "rate" and n <= int(arg):
            self.fail(429, envelope("RATE_LIMITED", "slow down"), Retry_After="0")
        elif kind == "ratewait" and n == 1:
            self.fail(429, envelope("RATE_LIMITED", "slow down"), Retry_After=arg)
        elif kind == "ratereset" and n == 1:
            reset = str(int(time.time()) + int(arg))
            self.fail(429, envelope("RATE_LIMITED", "slow down"), X_RateLimit_Reset=reset)
        elif kind == "unavailable" and n <= int(arg):
            self.fail(503, envelope("UNAVAILABLE", "database is locked", reason="locked"))
        elif kind == "plain500":
            self.fail(500, "<html>upstream exploded</html>")
        elif kind == "slow" and n <= int(arg):
            await asyncio.sleep(1.0)
            self.workflow(ident)
        elif kind == "status":
            code = {"413": "PAYLOAD_TOO_LARGE", "409": "CONFLICT", "418": "TEAPOT"}[arg]
            self.fail(int(arg), envelope(code, f"status {arg}", field="x"))
        elif kind == "expired":
            if self.request.headers.get("Authorization") != f"Bearer {self.state['token']}":
                self.fail(401, envelope("UNAUTHORIZED", "expired", reason="token_expired"))
            else:
                self.workflow(ident)
        else:
            self.workflow(ident)


class Refresh(web.RequestHandler):
    def initialize(self, hits: Counter, state: dict) -> None:
        self.hits = hits
        self.state = state

    async def post(self) -> None:
        self.hits["refresh"] += 1
        body = json.loads(self.request.body)
        if body["refresh_token"] != self.state["refresh"]:
            self.set_status(401)
            self.finish(envelope("UNAUTHORIZED", "refresh token reused", reason="token_reused"))
            return
        await asyncio.sleep(0.05)  # long enough for concurrent callers to pile up
        self.state["token"] = f"fresh-{self.hits['refresh']}"
        self.state["refresh"] = f"refresh-{self.hits['refresh']}"
        self.set_header("Content-Type", "application/json")
        self.finish(
            json.dumps(
                {
                    "token": self.state["token"],
                    "expires_in": 3600,
                    "refresh_token": self.state["refresh"],
                }
            )
        )


@pytest.fixture
def tiny(jp_asyncio_loop):
    """(base_url, hits, state) of a tiny server running on the test's event loop."""
    hits: Counter = Counter()
    state = {"token": "fresh-0", "refresh": "refresh-0"}
    kw = {"hits": hits, "state": state}
    app = web.Application(
        [
            (r"/axon/v1/workflows", Scenario, kw),
            (r"/axon/v1/workflows/([^/]+)", Scenario, kw),
            (r"/axon/v1/workflows/([^/]+)/execute", Scenario, kw),
            (r"/axon/v1/auth/refresh", Refresh, kw),
        ]
    )

    async def start():
        sock, port = bind_unused_port()
        server = HTTPServer(app)
        server.add_sockets([sock])
        return server, port

    server, port = jp_asyncio_loop.run_until_complete(start())
    yield f"http://127.0.0.1:{port}/axon/v1", hits, state
    server.stop()


def client(base_url: str, **kw) -> AxonOS:
    return AxonOS(api_key="axon_test", base_url=base_url, **kw)


async def test_429_is_retried_then_succeeds(tiny):
    base_url, hits, _ = tiny
    sdk = client(base_url)
    wf = await call(sdk.workflows.get, "rate-2")
    assert wf.id == "rate-2" and hits["rate-2"] == 3
    # A POST is retried on 429 too: the server refused it before doing anything.
    await call(sdk.workflows.execute, "rate-1")
    assert hits["rate-1"] == 2


async def test_429_gives_up_after_max_retries(tiny):
    base_url, hits, _ = tiny
    sdk = client(base_url, max_retries=1)
    with pytest.raises(RateLimitError) as info:
        await call(sdk.workflows.get, "rate-5")
    err = info.value
    assert hits["rate-5"] == 2
    assert (err.status, err.code, err.retry_after, err.request_id) == (
        429,
        "RATE_LIMITED",
        0.0,
        "req-123",
    )
    none = client(base_url, max_retries=0)
    with pytest.raises(RateLimitError):
        await call(none.workflows.get, "rate-9")
    assert hits["rate-9"] == 1


async def test_retry_after_and_ratelimit_reset_are_honoured(tiny):
    base_url, hits, _ = tiny
    sdk = client(base_url)
    started = time.monotonic()
    await call(sdk.workflows.get, "ratewait-1")
    assert time.monotonic() - started >= 0.95 and hits["ratewait-1"] == 2

    started = time.monotonic()
    await call(sdk.workflows.get, "ratereset-2")
    # X-RateLimit-Reset is whole unix seconds two seconds ahead: at least one full second.
    assert time.monotonic() - started >= 1.0 and hits["ratereset-2"] == 2


async def test_a_wait_beyond_the_cap_is_left_to_the_caller(tiny):
    base_url, hits, _ = tiny
    sdk = client(base_url, max_retry_delay=5)
    started = time.monotonic()
    with pytest.raises(RateLimitError) as info:
        await call(sdk.workflows.get, "ratewait-3600")
    assert info.value.retry_after == 3600 and hits["ratewait-3600"] == 1
    assert time.monotonic() - started < 5


async def test_5xx_retried_for_idempotent_calls_only(tiny):
    base_url, hits, _ = tiny
    sdk = client(base_url)
    wf = await call(sdk.workflows.get, "unavailable-2")
    assert wf.name == "ok" and hits["unavailable-2"] == 3
    await call(sdk.workflows.update, "unavailable-1", name="x")  # PUT is idempotent
    assert hits["unavailable-1"] == 2

    with pytest.raises(ServiceUnavailableError) as info:
        await call(sdk.workflows.execute, "unavailable-1-post")  # POST: never repeated
    err = info.value
    assert hits["unavailable-1-post"] == 1
    assert isinstance(err, InternalServerError)
    assert (err.status, err.code, err.details) == (503, "UNAVAILABLE", {"reason": "locked"})


async def test_500_without_envelope(tiny):
    base_url, hits, _ = tiny
    sdk = client(base_url, max_retries=1)
    with pytest.raises(InternalServerError) as info:
        await call(sdk.workflows.get, "plain500")
    err = info.value
    assert (err.status, err.code, err.request_id) == (500, "INTERNAL_ERROR", "req-123")
    assert hits["plain500"] == 2


async def test_status_codes_map_to_classes(tiny):
    base_url, _, _ = tiny
    sdk = client(base_url)
    with pytest.raises(PayloadTooLargeError):
        await call(sdk.workflows.get, "status-413")
    with pytest.raises(ConflictError) as info:
        await call(sdk.workflows.get, "status-409")
    assert info.value.details == {"field": "x"}
    with pytest.raises(APIError) as info:
        await call(sdk.workflows.get, "status-418")
    assert type(info.value) is APIError and info.value.code == "TEAPOT"


async def test_timeouts_retried_only_when_safe(tiny):
    base_url, hits, _ = tiny
    sdk = client(base_url, timeout=0.3, max_retries=1)
    with pytest.raises(APITimeoutError) as info:
        await call(sdk.workflows.get, "slow-5")
    assert hits["slow-5"] == 2 and "timed out" in str(info.value)
    with pytest.raises(APITimeoutError):
        await call(sdk.workflows.execute, "slow-6")
    assert hits["slow-6"] == 1
    # A longer timeout lets the same call through.
    patient = client(base_url, timeout=5)
    assert (await call(patient.workflows.get, "slow-1")).id == "slow-1"


async def test_connection_refused_is_connection_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sdk = client(f"http://127.0.0.1:{port}/axon/v1", max_retries=1)
    with pytest.raises(APIConnectionError) as info:
        await call(sdk.workflows.create, name="x")
    assert not isinstance(info.value, APITimeoutError)
    assert isinstance(info.value.__cause__, Exception)


async def test_concurrent_expired_calls_refresh_once(tiny):
    base_url, hits, state = tiny
    sdk = AxonOS(token="stale", refresh_token="refresh-0", base_url=base_url)
    sdk.credentials.expires_at = time.time() + 3600
    results = await asyncio.gather(*(call(sdk.workflows.get, f"expired-{i}") for i in range(4)))
    assert [r.id for r in results] == [f"expired-{i}" for i in range(4)]
    assert hits["refresh"] == 1
    assert sdk.credentials.token == state["token"] == "fresh-1"
    assert sdk.credentials.refresh_token == "refresh-1"


async def test_async_client_retries_and_refreshes_the_same_way(tiny):
    base_url, hits, _ = tiny
    async with AsyncAxonOS(token="stale", refresh_token="refresh-0", base_url=base_url) as sdk:
        sdk.credentials.expires_at = time.time() + 3600
        results = await asyncio.gather(*(sdk.workflows.get(f"expired-{i}") for i in range(4)))
        assert {r.id for r in results} == {f"expired-{i}" for i in range(4)}
        assert hits["refresh"] == 1 and sdk.credentials.token == "fresh-1"
        wf = await sdk.workflows.get("rate-2")
        assert wf.id == "rate-2" and hits["rate-2"] == 3
        with pytest.raises(ServiceUnavailableError):
            await sdk.workflows.execute("unavailable-1-post")
        assert hits["unavailable-1-post"] == 1
    async with AsyncAxonOS(api_key="k", base_url=base_url, timeout=0.3, max_retries=1) as sdk:
        with pytest.raises(APITimeoutError):
            await sdk.workflows.get("slow-5")
        assert hits["slow-5"] == 2


async def test_refresh_failure_surfaces_as_authentication_error(tiny):
    base_url, hits, _ = tiny
    # A refresh is never retried (a rotated token sent twice ends the login): one
    # attempt, then its error; the original call is not repeated either.
    sdk = AxonOS(token="stale", refresh_token="not-the-one", base_url=base_url)
    sdk.credentials.expires_at = time.time() + 3600
    with pytest.raises(AuthenticationError) as info:
        await call(sdk.workflows.get, "expired-x")
    assert info.value.reason == "token_reused"
    assert hits["refresh"] == 1 and hits["expired-x"] == 1


def test_error_from_response_reads_envelope_or_status():
    import httpx

    resp = httpx.Response(
        400,
        json={"error": {"code": "VALIDATION_ERROR", "message": "bad", "details": {"f": 1}}},
        headers={"X-Request-Id": "r1"},
    )
    err = error_from_response(resp)
    assert type(err) is ValidationError
    assert (err.code, err.message, err.details, err.request_id) == (
        "VALIDATION_ERROR",
        "bad",
        {"f": 1},
        "r1",
    )
    assert str(err) == '400 VALIDATION_ERROR: bad {"f": 1} (request id r1)'
    bare = error_from_response(httpx.Response(401, text="nope"))
    assert type(bare) is AuthenticationError and bare.code == "UNAUTHORIZED"
    gateway = error_from_response(httpx.Response(502, text="bad gateway"))
    assert type(gateway) is InternalServerError and gateway.status == 502
    limited = error_from_response(httpx.Response(429, headers={"Retry-After": "7"}))
    assert type(limited) is RateLimitError and limited.retry_after == 7.0
