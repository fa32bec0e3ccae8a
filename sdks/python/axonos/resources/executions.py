"""`/executions`: history, state, stop, logs (tail and follow), wait, live stream, retry.

`wait()` and `tail()` are procedures (see _base_client): written once as generators of
API calls and sleeps, run by either client. `stream()` follows the WebSocket protocol in
_streaming; each client only supplies its WebSocket connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from .._base_client import (
    Call,
    PageSpec,
    Procedure,
    _Do,
    _Emit,
    _Sleep,
    quote,
    timeout_for_wait,
)
from .._exceptions import APIConnectionError, WaitTimeoutError
from .._pagination import AsyncPage, SyncPage
from .._streaming import ExecutionStream, closed_error, connect_options
from .._types import Execution, ExecutionLog, ExecutionUpdate, LogPage, NodeUpdate
from ._resource import AsyncAPIResource, SyncAPIResource

_EXECUTIONS = PageSpec("executions", Execution.from_api)
MAX_POLL_INTERVAL = 2.0


def _path(execution_id: str, *rest: str) -> str:
    return "/".join(["executions", quote(execution_id), *rest])


def _list_call(
    workflow_id: str | None, status: str | None, page: int | None, limit: int | None
) -> Call[Any]:
    params = {"workflow_id": workflow_id, "status": status, "page": page, "limit": limit}
    return Call("GET", "executions", params=params, page=_EXECUTIONS)


def _get_call(execution_id: str) -> Call[Execution]:
    return Call("GET", _path(execution_id), cast=Execution.from_api)


def _stop_call(execution_id: str) -> Call[Execution]:
    # Not repeated on a lost answer: the repeat of a stop that worked would say 409.
    return Call("POST", _path(execution_id, "stop"), cast=Execution.from_api)


def _logs_call(execution_id: str, after: Any, limit: int | None) -> Call[LogPage]:
    return Call(
        "GET",
        _path(execution_id, "logs"),
        params={"after": after, "limit": limit},
        cast=LogPage.from_api,
    )


def _retry_call(
    execution_id: str,
    mode: str,
    node_id: str | None,
    workflow_version: str,
    wait: float | None,
    timeout: Any,
    default_timeout: Any,
) -> Call[Execution]:
    body: dict[str, Any] = {"mode": mode, "workflow_version": workflow_version}
    if node_id is not None:
        body["node_id"] = node_id
    return Call(
        "POST",
        _path(execution_id, "retry"),
        params={"wait": wait},
        json=body,
        cast=Execution.from_api,
        timeout=timeout_for_wait(wait, timeout, default_timeout),
    )


def _wait(execution_id: str, timeout: float | None, poll_interval: float) -> Procedure[Execution]:
    """Poll until terminal, backing off from `poll_interval` up to 2 s between reads."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = poll_interval
    while True:
        execution: Execution = yield _Do(_get_call(execution_id))
        if execution.is_terminal:
            return execution
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeoutError(
                    f"execution {execution_id} still {execution.status} after {timeout} s",
                    execution,
                )
            delay = min(delay, remaining)
        yield _Sleep(delay)
        delay = min(delay * 1.5, MAX_POLL_INTERVAL)


def _tail(
    execution_id: str,
    after: Any,
    follow: bool,
    poll_interval: float,
    timeout: float | None,
    page_size: int,
) -> Procedure[Any]:
    """Every log line after `after`; when following, until the execution is over.

    The state is read before the lines: a server commits a line before it announces the
    terminal state, so after a terminal read, one more drain has every line.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    cursor = after
    while True:
        execution: Execution | None = None
        if follow:
            execution = yield _Do(_get_call(execution_id))
        while True:
            page: LogPage = yield _Do(_logs_call(execution_id, cursor, page_size))
            for line in page.logs:
                yield _Emit(line)
            cursor = page.next_after
            if not page.has_more:
                break
        if execution is None or execution.is_terminal:
            return cursor
        if deadline is not None and time.monotonic() >= deadline:
            raise WaitTimeoutError(
                f"execution {execution_id} still {execution.status} after {timeout} s",
                execution,
            )
        yield _Sleep(poll_interval)


def _connection_error(url: str, exc: BaseException) -> APIConnectionError:
    error = APIConnectionError(f"cannot open the event stream {url}: {exc}")
    error.__cause__ = exc
    return error


class Executions(SyncAPIResource):
    def list(
        self,
        *,
        workflow_id: str | None = None,
        status: str | None = None,
        page: int | None = None,
        limit: int | None = None,
    ) -> SyncPage[Execution]:
        """One page of your executions, newest first (iterate the page for all)."""
        return self._client._request(_list_call(workflow_id, status, page, limit))

    def get(self, execution_id: str) -> Execution:
        """An execution with its per-node records."""
        return self._client._request(_get_call(execution_id))

    def stop(self, execution_id: str) -> Execution:
        """Stop a queued or running execution; ConflictError if it already finished."""
        return self._client._request(_stop_call(execution_id))

    def retry(
        self,
        execution_id: str,
        *,
        mode: str = "from_failed",
        node_id: str | None = None,
        workflow_version: str = "original",
        wait: float | None = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> Execution:
        """Run again as a new execution: `from_failed` reuses the outputs of the nodes
        that succeeded, `from_start` reruns all, `from_node` reruns from `node_id`; on
        the `original` revision of the workflow or the `latest`. `wait=` as in execute."""
        return self._client._request(
            _retry_call(
                execution_id,
                mode,
                node_id,
                workflow_version,
                wait,
                timeout,
                self._client.timeout,
            )
        )

    def logs(self, execution_id: str, *, after: Any = None, limit: int | None = None) -> LogPage:
        """Log lines after the cursor `after` (oldest first)."""
        return self._client._request(_logs_call(execution_id, after, limit))

    def tail(
        self,
        execution_id: str,
        *,
        after: Any = None,
        follow: bool = True,
        poll_interval: float = 0.5,
        timeout: float | None = None,
        page_size: int = 100,
    ) -> Iterator[ExecutionLog]:
        """Every log line from `after` on; with `follow`, keeps reading until the
        execution is over (like `tail -f` that stops by itself)."""
        return self._client._iterate(
            _tail(execution_id, after, follow, poll_interval, timeout, page_size)
        )

    def wait(
        self, execution_id: str, *, timeout: float | None = 60.0, poll_interval: float = 0.2
    ) -> Execution:
        """Block until the execution is succeeded, failed or stopped, and return it;
        WaitTimeoutError (with `.execution`) after `timeout` seconds."""
        return self._client._complete(_wait(execution_id, timeout, poll_interval))

    def stream(
        self, execution_id: str, *, timeout: float | None = None
    ) -> Iterator[ExecutionUpdate | NodeUpdate]:
        """Live updates over the WebSocket, ending after the terminal ExecutionUpdate.

        Yields ExecutionUpdate (status, progress, current_node) and NodeUpdate events;
        the first update is the state at subscription time, so an execution that already
        finished yields its final state and ends.
        """
        from websockets.exceptions import ConnectionClosed, WebSocketException
        from websockets.sync.client import connect

        client = self._client
        protocol = ExecutionStream(execution_id, timeout)
        client._drive(client._refresh_if_due_flow())
        secret, options = connect_options(client.credentials, client.base_url)
        url = client.websocket_url
        try:
            ws = connect(
                url, open_timeout=_open_timeout(client.timeout), compression=None, **options
            )
        except (OSError, WebSocketException) as exc:
            raise _connection_error(url, exc) from exc
        with ws:
            first = protocol.start(secret)
            if first is not None:
                ws.send(first)
            while not protocol.done:
                try:
                    text = ws.recv(timeout=protocol.recv_timeout())
                except TimeoutError:
                    protocol.silence()
                except ConnectionClosed as exc:
                    raise closed_error(_close_code(exc), _close_reason(exc)) from exc
                else:
                    yield from protocol.feed(text)
                for message in protocol.take_outbox():
                    ws.send(message)
                if protocol.take_poll():
                    yield from protocol.snapshot(self.get(execution_id))


class AsyncExecutions(AsyncAPIResource):
    async def list(
        self,
        *,
        workflow_id: str | None = None,
        status: str | None = None,
        page: int | None = None,
        limit: int | None = None,
    ) -> AsyncPage[Execution]:
        """One page of your executions, newest first (`async for` the page for all)."""
        return await self._client._request(_list_call(workflow_id, status, page, limit))

    async def get(self, execution_id: str) -> Execution:
        """An execution with its per-node records."""
        return await self._client._request(_get_call(execution_id))

    async def stop(self, execution_id: str) -> Execution:
        """Stop a queued or running execution; ConflictError if it already finished."""
        return await self._client._request(_stop_call(execution_id))

    async def retry(
        self,
        execution_id: str,
        *,
        mode: str = "from_failed",
        node_id: str | None = None,
        workflow_version: str = "original",
        wait: float | None = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> Execution:
        """Run again as a new execution (see `Executions.retry`)."""
        return await self._client._request(
            _retry_call(
                execution_id,
                mode,
                node_id,
                workflow_version,
                wait,
                timeout,
                self._client.timeout,
            )
        )

    async def logs(
        self, execution_id: str, *, after: Any = None, limit: int | None = None
    ) -> LogPage:
        """Log lines after the cursor `after` (oldest first)."""
        return await self._client._request(_logs_call(execution_id, after, limit))

    async def tail(
        self,
        execution_id: str,
        *,
        after: Any = None,
        follow: bool = True,
        poll_interval: float = 0.5,
        timeout: float | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[ExecutionLog]:
        """Every log line from `after` on; with `follow`, until the execution is over."""
        procedure = _tail(execution_id, after, follow, poll_interval, timeout, page_size)
        async for line in self._client._iterate(procedure):
            yield line

    async def wait(
        self, execution_id: str, *, timeout: float | None = 60.0, poll_interval: float = 0.2
    ) -> Execution:
        """Wait until the execution is succeeded, failed or stopped, and return it."""
        return await self._client._complete(_wait(execution_id, timeout, poll_interval))

    async def stream(
        self, execution_id: str, *, timeout: float | None = None
    ) -> AsyncIterator[ExecutionUpdate | NodeUpdate]:
        """Live updates over the WebSocket until the terminal state (see `Executions.stream`)."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, WebSocketException

        client = self._client
        protocol = ExecutionStream(execution_id, timeout)
        await client._drive(client._refresh_if_due_flow())
        secret, options = connect_options(client.credentials, client.base_url)
        url = client.websocket_url
        try:
            ws = await connect(
                url, open_timeout=_open_timeout(client.timeout), compression=None, **options
            )
        except (OSError, WebSocketException, asyncio.TimeoutError) as exc:
            raise _connection_error(url, exc) from exc
        async with ws:
            first = protocol.start(secret)
            if first is not None:
                await ws.send(first)
            while not protocol.done:
                try:
                    text = await asyncio.wait_for(ws.recv(), protocol.recv_timeout())
                except asyncio.TimeoutError:  # a distinct class on 3.10
                    protocol.silence()
                except ConnectionClosed as exc:
                    raise closed_error(_close_code(exc), _close_reason(exc)) from exc
                else:
                    for update in protocol.feed(text):
                        yield update
                for message in protocol.take_outbox():
                    await ws.send(message)
                if protocol.take_poll():
                    for update in protocol.snapshot(await self.get(execution_id)):
                        yield update


def _open_timeout(timeout: Any) -> float | None:
    connect = getattr(timeout, "connect", timeout)
    return float(connect) if connect is not None else None


def _close_code(exc: Any) -> int | None:
    return exc.rcvd.code if getattr(exc, "rcvd", None) is not None else None


def _close_reason(exc: Any) -> str | None:
    return exc.rcvd.reason if getattr(exc, "rcvd", None) is not None else None
