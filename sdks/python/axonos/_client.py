"""`AxonOS` (blocking) and `AsyncAxonOS` (asyncio): the two faces of one client.

Both inherit everything but I/O from `BaseClient`; each only drives the transport-free
flows with its own transport (httpx.Client or httpx.AsyncClient, `time.sleep` or
`asyncio.sleep`, a thread lock or an asyncio lock around token refresh).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from functools import cached_property
from typing import Any, TypeVar

import httpx

from ._base_client import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_DELAY,
    DEFAULT_TIMEOUT,
    BaseClient,
    Call,
    Flow,
    Procedure,
    _Do,
    _Emit,
    _Refresh,
    _Send,
    _Sleep,
)
from ._pagination import AsyncPage, SyncPage
from ._types import Health
from .resources.api_keys import ApiKeys, AsyncApiKeys
from .resources.auth import AsyncAuth, Auth
from .resources.executions import AsyncExecutions, Executions
from .resources.nodes import AsyncNodes, Nodes
from .resources.workflows import AsyncWorkflows, Workflows

T = TypeVar("T")

__all__ = ["AsyncAxonOS", "AxonOS"]

_HEALTH = Call("GET", "health", cast=Health.from_api, authenticated=False)


class AxonOS(BaseClient):
    """Blocking client for the Axon API.

    >>> client = AxonOS(api_key="axon_...", base_url="http://127.0.0.1:8888/axon/v1")
    >>> client.workflows.list()

    Credentials: `api_key=` (X-API-Key), or `token=` (a login JWT, or a Jupyter server
    token), or `AxonOS.login(email, password)`; otherwise AXON_API_KEY / AXON_TOKEN from
    the environment. The server: `base_url=`, else AXON_URL, else the local default
    Jupyter server. `timeout` (seconds or an httpx.Timeout) applies per request;
    `max_retries` bounds the retries of rate-limited, failed-to-connect and (for
    idempotent calls) 5xx requests; `max_retry_delay` caps a server-requested wait.
    """

    _page_type = SyncPage

    def __init__(
        self,
        *,
        api_key: str | None = None,
        token: str | None = None,
        refresh_token: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_delay: float = DEFAULT_MAX_RETRY_DELAY,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        _require_credentials: bool = True,
    ) -> None:
        super().__init__(
            api_key=api_key,
            token=token,
            refresh_token=refresh_token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            max_retry_delay=max_retry_delay,
            default_headers=default_headers,
            _require_credentials=_require_credentials,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout)
        self._refresh_lock = threading.Lock()

    @classmethod
    def login(
        cls, email: str, password: str, *, base_url: str | None = None, **options: Any
    ) -> AxonOS:
        """A client logged in as this user; it refreshes its token by itself."""
        client = cls(base_url=base_url, _require_credentials=False, **options)
        try:
            client.auth.login(email, password)
        except BaseException:
            client.close()
            raise
        return client

    # ------------------------------------------------------------ resources
    @cached_property
    def auth(self) -> Auth:
        return Auth(self)

    @cached_property
    def workflows(self) -> Workflows:
        return Workflows(self)

    @cached_property
    def nodes(self) -> Nodes:
        return Nodes(self)

    @cached_property
    def executions(self) -> Executions:
        return Executions(self)

    @cached_property
    def api_keys(self) -> ApiKeys:
        return ApiKeys(self)

    def health(self) -> Health:
        """`GET /health`: the server is up, and its version (needs no credentials)."""
        return self._request(_HEALTH)

    # ------------------------------------------------------------ driving the flows
    def _request(self, call: Call[T]) -> Any:
        return self._drive(self._flow(self._http, call))

    def _drive(self, flow: Flow[T]) -> T:
        outcome: Any = None
        while True:
            try:
                action = flow.send(outcome)
            except StopIteration as stop:
                return stop.value
            outcome = None
            if isinstance(action, _Send):
                try:
                    outcome = self._http.send(action.request)
                except httpx.TransportError as exc:
                    outcome = exc
            elif isinstance(action, _Sleep):
                time.sleep(action.seconds)
            elif isinstance(action, _Refresh):
                with self._refresh_lock:
                    # Another thread may have refreshed while this one waited.
                    if self.credentials.token == action.stale_token:
                        self._request(self._refresh_call())

    def _iterate(self, procedure: Procedure[Any]) -> Iterator[Any]:
        """Run a procedure, yielding what it emits; returns its return value."""
        outcome: Any = None
        while True:
            try:
                action = procedure.send(outcome)
            except StopIteration as stop:
                return stop.value
            outcome = None
            if isinstance(action, _Do):
                outcome = self._request(action.call)
            elif isinstance(action, _Sleep):
                time.sleep(action.seconds)
            elif isinstance(action, _Emit):
                yield action.item

    def _complete(self, procedure: Procedure[T]) -> T:
        iterator = self._iterate(procedure)
        while True:
            try:
                next(iterator)
            except StopIteration as stop:
                return stop.value

    # ------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close the connection pool (only if this client created it)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> AxonOS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncAxonOS(BaseClient):
    """The asyncio client: the same resources and methods as `AxonOS`, awaited.

    >>> async with AsyncAxonOS(api_key="axon_...") as client:
    ...     page = await client.workflows.list()
    ...     async for wf in page:  # every page, fetched as needed
    ...         print(wf.name)
    """

    _page_type = AsyncPage

    def __init__(
        self,
        *,
        api_key: str | None = None,
        token: str | None = None,
        refresh_token: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_delay: float = DEFAULT_MAX_RETRY_DELAY,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        _require_credentials: bool = True,
    ) -> None:
        super().__init__(
            api_key=api_key,
            token=token,
            refresh_token=refresh_token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            max_retry_delay=max_retry_delay,
            default_headers=default_headers,
            _require_credentials=_require_credentials,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._refresh_lock = asyncio.Lock()

    @classmethod
    async def login(
        cls, email: str, password: str, *, base_url: str | None = None, **options: Any
    ) -> AsyncAxonOS:
        """A client logged in as this user; it refreshes its token by itself."""
        client = cls(base_url=base_url, _require_credentials=False, **options)
        try:
            await client.auth.login(email, password)
        except BaseException:
            await client.close()
            raise
        return client

    # ------------------------------------------------------------ resources
    @cached_property
    def auth(self) -> AsyncAuth:
        return AsyncAuth(self)

    @cached_property
    def workflows(self) -> AsyncWorkflows:
        return AsyncWorkflows(self)

    @cached_property
    def nodes(self) -> AsyncNodes:
        return AsyncNodes(self)

    @cached_property
    def executions(self) -> AsyncExecutions:
        return AsyncExecutions(self)

    @cached_property
    def api_keys(self) -> AsyncApiKeys:
        return AsyncApiKeys(self)

    async def health(self) -> Health:
        """`GET /health`: the server is up, and its version (needs no credentials)."""
        return await self._request(_HEALTH)

    # ------------------------------------------------------------ driving the flows
    async def _request(self, call: Call[T]) -> Any:
        return await self._drive(self._flow(self._http, call))

    async def _drive(self, flow: Flow[T]) -> T:
        outcome: Any = None
        while True:
            try:
                action = flow.send(outcome)
            except StopIteration as stop:
                return stop.value
            outcome = None
            if isinstance(action, _Send):
                try:
                    outcome = await self._http.send(action.request)
                except httpx.TransportError as exc:
                    outcome = exc
            elif isinstance(action, _Sleep):
                await asyncio.sleep(action.seconds)
            elif isinstance(action, _Refresh):
                async with self._refresh_lock:
                    if self.credentials.token == action.stale_token:
                        await self._request(self._refresh_call())

    async def _iterate(self, procedure: Procedure[Any]) -> AsyncIterator[Any]:
        """Run a procedure, yielding what it emits (its return value is dropped)."""
        outcome: Any = None
        while True:
            try:
                action = procedure.send(outcome)
            except StopIteration:
                return
            outcome = None
            if isinstance(action, _Do):
                outcome = await self._request(action.call)
            elif isinstance(action, _Sleep):
                await asyncio.sleep(action.seconds)
            elif isinstance(action, _Emit):
                yield action.item

    async def _complete(self, procedure: Procedure[T]) -> T:
        outcome: Any = None
        while True:
            try:
                action = procedure.send(outcome)
            except StopIteration as stop:
                return stop.value
            outcome = None
            if isinstance(action, _Do):
                outcome = await self._request(action.call)
            elif isinstance(action, _Sleep):
                await asyncio.sleep(action.seconds)

    # ------------------------------------------------------------ lifecycle
    async def close(self) -> None:
        """Close the connection pool (only if this client created it)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncAxonOS:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
