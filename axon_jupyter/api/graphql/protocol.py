"""The graphql-transport-ws protocol (github.com/enisdenjo/graphql-ws, PROTOCOL.md),
framework-free: the tornado socket in handlers.py feeds it text frames and gives it a
way to send and to close; it runs one task per operation id.

    client -> {"type": "connection_init", "payload": {"token": "<JWT or API key>"}}
    server -> {"type": "connection_ack"}
    client -> {"id": "1", "type": "subscribe", "payload": {"query", "variables", ...}}
    server -> {"id": "1", "type": "next", "payload": {"data": ...}} ... {"type": "complete"}
    either -> {"type": "ping"} / {"type": "pong"};  client -> {"id", "type": "complete"}
Close codes: 4400 invalid message, 4401 subscribe before ack (or a credential that
expired or was revoked), 4403 connection_init rejected, 4408 no connection_init in time,
4409 duplicate operation id, 4429 a second connection_init, 1013 slow consumer.
Nothing here imports tornado.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from graphql import ExecutionResult

from ...engine.events import SlowConsumer
from ...errors import AxonError, Unauthorized
from .context import GraphQLContext
from .execution import (
    ALL_OPERATIONS,
    Operation,
    RequestError,
    format_error,
    result_body,
    run_operation,
)

log = logging.getLogger("axon.graphql.ws")

SUBPROTOCOL = "graphql-transport-ws"
BAD_REQUEST = 4400
UNAUTHORIZED = 4401
FORBIDDEN = 4403
INIT_TIMEOUT = 4408
DUPLICATE_ID = 4409
TOO_MANY_INITS = 4429
TRY_AGAIN_LATER = 1013


class Transport(Protocol):
    """What the protocol needs from a socket."""

    def send_json(self, message: dict[str, Any]) -> Awaitable[None] | None: ...

    def end(self, code: int, reason: str) -> None: ...


# Turns connection_init's payload into a context (raises Unauthorized to reject).
Authenticator = Callable[[dict[str, Any]], Awaitable[GraphQLContext]]
# Counts one operation against the user's budget (raises RateLimited).
Charger = Callable[[], None]


class GraphQLTransportWS:
    def __init__(self, transport: Transport, authenticate: Authenticator, charge: Charger):
        self.transport = transport
        self.authenticate = authenticate
        self.charge = charge
        self.context: GraphQLContext | None = None
        self.init_received = False
        self.operations: dict[str, asyncio.Task] = {}
        self.closed = False

    # ------------------------------------------------------------ inbound
    async def handle(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return self.terminate(BAD_REQUEST, "Invalid message received")
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return self.terminate(BAD_REQUEST, "Invalid message received")
        kind = message["type"]
        if kind == "connection_init":
            await self._init(message.get("payload"))
        elif kind == "ping":
            self._send({"type": "pong"})
        elif kind == "pong":
            return None
        elif kind == "subscribe":
            self._subscribe(message)
        elif kind == "complete":
            op_id = message.get("id")
            if not isinstance(op_id, str):
                return self.terminate(BAD_REQUEST, "Invalid message received")
            task = self.operations.pop(op_id, None)
            if task is not None:
                task.cancel()
        else:
            self.terminate(BAD_REQUEST, f"Unexpected message of type {kind[:40]} received")

    async def _init(self, payload: Any) -> None:
        if self.init_received:
            return self.terminate(TOO_MANY_INITS, "Too many initialisation requests")
        self.init_received = True
        if payload is not None and not isinstance(payload, dict):
            return self.terminate(BAD_REQUEST, "Invalid message received")
        try:
            self.context = await self.authenticate(payload or {})
        except Unauthorized:
            return self.terminate(FORBIDDEN, "Forbidden")
        except AxonError as exc:
            log.warning("graphql-ws: connection_init failed: %s", exc.message)
            return self.terminate(FORBIDDEN, "Forbidden")
        if not self.closed:
            self._send({"type": "connection_ack"})

    def _subscribe(self, message: dict[str, Any]) -> None:
        op_id, payload = message.get("id"), message.get("payload")
        if not isinstance(op_id, str) or not op_id or not isinstance(payload, dict):
            return self.terminate(BAD_REQUEST, "Invalid message received")
        if self.context is None:
            return self.terminate(UNAUTHORIZED, "Unauthorized")
        if op_id in self.operations:
            return self.terminate(DUPLICATE_ID, f"Subscriber for {op_id[:64]} already exists")
        operation = Operation(
            payload.get("query"), payload.get("variables"), payload.get("operationName")
        )
        task = asyncio.ensure_future(self._run(op_id, operation))
        self.operations[op_id] = task

    # ------------------------------------------------------------ one operation
    async def _run(self, op_id: str, operation: Operation) -> None:
        assert self.context is not None
        stream: Any = None
        try:
            self.charge()
            result = await run_operation(self.context, operation, allowed=ALL_OPERATIONS)
            if isinstance(result, ExecutionResult):
                await self._next(op_id, result)
            else:
                stream = result
                async for item in stream:
                    if op_id not in self.operations:
                        return
                    await self._next(op_id, item)
            self._finish(op_id, {"id": op_id, "type": "complete"})
        except RequestError as exc:
            self._finish(
                op_id,
                {"id": op_id, "type": "error", "payload": [format_error(e) for e in exc.errors]},
            )
        except AxonError as exc:  # refused before execution, e.g. RATE_LIMITED
            payload = [
                {"message": exc.message, "extensions": {"code": exc.code, "details": exc.details}}
            ]
            self._finish(op_id, {"id": op_id, "type": "error", "payload": payload})
        except SlowConsumer as exc:
            self.terminate(TRY_AGAIN_LATER, f"slow consumer: {exc}"[:120])
        except asyncio.CancelledError:
            pass  # the client completed it, or the socket closed
        finally:
            if stream is not None:
                with contextlib.suppress(Exception):
                    await stream.aclose()

    async def _next(self, op_id: str, result: ExecutionResult) -> None:
        pending = self._send({"id": op_id, "type": "next", "payload": result_body(result)})
        if pending is not None:
            await pending  # backpressure: a client that does not read stalls only itself

    def _finish(self, op_id: str, message: dict[str, Any]) -> None:
        if self.operations.pop(op_id, None) is not None:
            self._send(message)

    # ------------------------------------------------------------ outbound
    def _send(self, message: dict[str, Any]) -> Awaitable[None] | None:
        if self.closed:
            return None
        return self.transport.send_json(message)

    def terminate(self, code: int, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.transport.end(code, reason)
        self.connection_lost()

    def connection_lost(self) -> None:
        self.closed = True
        for task in self.operations.values():
            task.cancel()
        self.operations.clear()
