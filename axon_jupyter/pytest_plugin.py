"""pytest fixtures for testing Axon against a real Jupyter server (`axon_*`).

Builds on pytest-jupyter: the server is a real ServerApp with the extension loaded and
a real SQLite file under the test's tmp dir. Use from a project's conftest:

    @pytest.fixture
    def jp_server_config(axon_server_config):
        return axon_server_config
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

import pytest

from .testing import AxonServerProcess

pytest_plugins = ["pytest_jupyter.jupyter_server"]

API = "axon/v1"


@dataclass
class AxonResponse:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def error_code(self) -> str | None:
        data = self.json()
        return data.get("error", {}).get("code") if isinstance(data, dict) else None

    def __repr__(self) -> str:
        return f"<AxonResponse {self.status} {self.body[:300]!r}>"


class AxonTestClient:
    """A small async client for the API under test; never raises on HTTP errors."""

    def __init__(self, http_client, base_path: str, headers: dict[str, str] | None = None):
        self._http = http_client
        self.base_path = base_path.rstrip("/")  # e.g. /a%40b (Jupyter's base_url)
        self.api_path = f"{self.base_path}/{API}"
        self.headers = dict(headers or {})

    @property
    def server_url(self) -> str:
        """Absolute URL of the Jupyter server, for clients outside this fixture."""
        return f"http://127.0.0.1:{self._http.get_http_port()}{self.base_path}"

    @property
    def api_url(self) -> str:
        """Absolute URL of the Axon API (what SDKs take as base_url)."""
        return f"{self.server_url}/{API}"

    def with_headers(self, headers: dict[str, str]) -> AxonTestClient:
        return AxonTestClient(self._http, self.base_path, {**self.headers, **headers})

    def bearer(self, token: str) -> AxonTestClient:
        return AxonTestClient(self._http, self.base_path, {"Authorization": f"Bearer {token}"})

    def api_key(self, key: str) -> AxonTestClient:
        return AxonTestClient(self._http, self.base_path, {"X-API-Key": key})

    def anonymous(self) -> AxonTestClient:
        return AxonTestClient(self._http, self.base_path, {})

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        timeout: float = 30,
        follow_redirects: bool = True,
    ) -> AxonResponse:
        url = path if path.startswith("/") else f"{self.api_path}/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        if json_body is not None:
            body = json.dumps(json_body)
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b""
        resp = await self._http.fetch(
            url,
            method=method,
            body=body,
            headers={**self.headers, **(headers or {})},
            raise_error=False,
            request_timeout=timeout,
            allow_nonstandard_methods=True,
            follow_redirects=follow_redirects,
        )
        return AxonResponse(resp.code, resp.headers, resp.body or b"")

    async def get(self, path: str, **kw: Any) -> AxonResponse:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> AxonResponse:
        return await self.request("POST", path, json_body=json, **kw)

    async def put(self, path: str, json: Any = None, **kw: Any) -> AxonResponse:
        return await self.request("PUT", path, json_body=json, **kw)

    async def delete(self, path: str, **kw: Any) -> AxonResponse:
        return await self.request("DELETE", path, **kw)


@dataclass
class AxonTestUser:
    id: str
    email: str
    password: str
    token: str
    refresh_token: str
    client: AxonTestClient


@pytest.fixture
def axon_config() -> dict[str, Any]:
    """Extra AxonApp traits for the server under test; override to change them."""
    return {}


@pytest.fixture
def axon_data_dir(tmp_path):
    return tmp_path / "axon-data"


@pytest.fixture
def axon_server_config(axon_config, axon_data_dir) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"axon_jupyter": True}},
        "AxonApp": {"data_dir": str(axon_data_dir), **axon_config},
    }


@pytest.fixture
def axon_runtime(jp_serverapp):
    """The running AxonRuntime inside the test server (store, services)."""
    return jp_serverapp.web_app.settings["axon"]


@pytest.fixture
def axon_client(jp_serverapp, http_server_client, jp_base_url) -> AxonTestClient:
    """Unauthenticated client for the Axon API of the test server."""
    return AxonTestClient(http_server_client, jp_base_url)


@pytest.fixture
def axon_jupyter_client(axon_client, jp_auth_header) -> AxonTestClient:
    """A client authenticated by Jupyter's own token (acts as the server owner)."""
    return axon_client.with_headers(jp_auth_header)


@pytest.fixture
def axon_user_factory(axon_client, axon_runtime):
    """Create a user (through the service) and log in through the REST API."""
    counter = {"n": 0}

    async def make(
        email: str | None = None,
        password: str = "correct-horse-battery",
        *,
        role: str = "member",
        plan: str = "standard",
    ) -> AxonTestUser:
        await axon_runtime.ready()
        counter["n"] += 1
        email = email or f"user{counter['n']}@example.com"
        user = await axon_runtime.auth.create_user(email, password, role=role, plan=plan)
        resp = await axon_client.post("auth/login", {"email": email, "password": password})
        assert resp.status == 200, resp
        data = resp.json()
        return AxonTestUser(
            id=user.id,
            email=email,
            password=password,
            token=data["token"],
            refresh_token=data["refresh_token"],
            client=axon_client.bearer(data["token"]),
        )

    return make


# pytest-jupyter runs async tests but not async fixtures, so these drive its loop.
@pytest.fixture
def axon_user(axon_user_factory, jp_asyncio_loop) -> AxonTestUser:
    """alice@example.com, logged in; `.client` sends her Bearer token."""
    return jp_asyncio_loop.run_until_complete(axon_user_factory("alice@example.com"))


@pytest.fixture
def axon_other_user(axon_user_factory, jp_asyncio_loop) -> AxonTestUser:
    """bob@example.com: the tenant whose objects alice must never see."""
    return jp_asyncio_loop.run_until_complete(axon_user_factory("bob@example.com"))


@pytest.fixture
def axon_admin(axon_user_factory, jp_asyncio_loop) -> AxonTestUser:
    return jp_asyncio_loop.run_until_complete(axon_user_factory("admin@example.com", role="admin"))


class OpenAPIChecker:
    """Validates real responses against the served OpenAPI document."""

    def __init__(self, document: dict[str, Any]):
        self.document = document

    def schema_for(self, method: str, template: str, status: int) -> dict[str, Any] | None:
        operation = self.document["paths"][template][method.lower()]
        response = operation["responses"].get(str(status))
        assert response is not None, f"{method} {template} does not document status {status}"
        content = response.get("content", {}).get("application/json")
        return None if content is None else content["schema"]

    def check(self, response: AxonResponse, method: str, template: str) -> None:
        import jsonschema

        schema = self.schema_for(method, template, response.status)
        if schema is None:
            return
        root = {**schema, "components": self.document["components"]}
        jsonschema.Draft202012Validator(root).validate(response.json())


@pytest.fixture
def axon_openapi(jp_asyncio_loop, axon_client) -> OpenAPIChecker:
    """`axon_openapi.check(resp, "GET", "/workflows/{workflow_id}")` validates a response."""
    resp = jp_asyncio_loop.run_until_complete(axon_client.get("openapi.json"))
    assert resp.status == 200
    return OpenAPIChecker(resp.json())


@pytest.fixture
def axon_server_process(tmp_path):
    """Factory: `server = axon_server_process(env={...}, args=[...])` starts `jupyter axon`
    on a free port with its own data dir (tmp_path/"server-data" unless given); every
    server started is stopped at teardown."""
    import secrets
    import socket

    started: list[AxonServerProcess] = []

    def make(
        *,
        data_dir=None,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        port: int | None = None,
        token: str | None = None,
    ) -> AxonServerProcess:
        if port is None:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
        data_dir = data_dir or tmp_path / "server-data"
        home = tmp_path / "server-home"
        base_env = {
            "AXON_DATA_DIR": str(data_dir),
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_PLATFORM_DIRS": "1",
        }
        server = AxonServerProcess(
            tmp_path,
            port=port,
            token=token or secrets.token_hex(16),
            args=list(args or []),
            env={**base_env, **(env or {})},
        )
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop(kill=True)
