"""`/axon/v1/graphql`: queries and mutations over HTTP, subscriptions over a WebSocket.

Tornado routes one path to one handler class, so the route's class, `GraphQLHandler`,
picks the implementation per request: an `Upgrade: websocket` request is served by
`GraphQLSocket` (graphql-transport-ws), anything else by the HTTP handler itself, which
is an AxonHandler (same credentials, body cap, error envelope and rate limit as REST).
POST runs queries and mutations; GET runs queries only (a mutation over GET is 405).
Transport only: the protocol lives in protocol.py, execution in execution.py.
"""

from __future__ import annotations

from typing import Any

from tornado import web

from ...auth.identity import Principal
from ...errors import Unauthorized
from ...services.inputs import invalid
from .. import jsonbody
from ..base import AxonHandler
from ..ws import AxonSocketHandler
from .context import GraphQLContext
from .execution import (
    QUERIES_AND_MUTATIONS,
    QUERIES_ONLY,
    Operation,
    RequestError,
    format_error,
    result_body,
    run_operation,
)
from .protocol import SUBPROTOCOL, GraphQLTransportWS

# Where graphql-transport-ws clients put a credential in connection_init's payload.
_TOKEN_KEYS = ("token", "authToken", "apiKey", "api_key", "X-API-Key", "x-api-key")
_HEADER_KEYS = ("Authorization", "authorization")


def credential_from_payload(payload: dict[str, Any]) -> str | None:
    for key in _TOKEN_KEYS:
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    headers = payload.get("headers") if isinstance(payload.get("headers"), dict) else payload
    for key in _HEADER_KEYS:
        value = headers.get(key)
        if isinstance(value, str) and value.lower().startswith("bearer "):
            return value[7:].strip()
    return None


# Streaming like the route's class (GraphQLHandler), so tornado runs get() only once the
# upgrade request is fully read; otherwise the 101 would be written while the HTTP
# connection still counts the request as unread, and it would drop the socket.
@web.stream_request_body
class GraphQLSocket(AxonSocketHandler):
    """The WebSocket side of /axon/v1/graphql: a thin wrapper around the protocol."""

    def initialize(self, **kwargs: Any) -> None:
        super().initialize(**kwargs)
        self.protocol = GraphQLTransportWS(self, self._authenticate, self.charge)

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return SUBPROTOCOL if SUBPROTOCOL in subprotocols else None

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open()
        if self.selected_subprotocol != SUBPROTOCOL:
            self.end(4406, "Subprotocol not acceptable")
            return
        self.after(self.axon.config.ws_auth_timeout, self._init_timeout)

    def _init_timeout(self) -> None:
        if not self.protocol.init_received:
            self.protocol.terminate(4408, "Connection initialisation timeout")

    async def _authenticate(self, payload: dict[str, Any]) -> GraphQLContext:
        credential = credential_from_payload(payload)
        principal: Principal | None
        if credential is not None:
            principal = await self.authenticate_token(credential)
        else:
            principal = await self.jupyter_principal()
            if principal is None:
                raise Unauthorized("connection_init carries no credential")
        self.authenticated(principal, credential)
        return GraphQLContext(self.axon, principal)

    async def on_message(self, message: str | bytes) -> None:
        await self.protocol.handle(message)

    def connection_closed(self) -> None:
        self.protocol.connection_lost()


class GraphQLHandler(AxonHandler):
    """The HTTP side of /axon/v1/graphql (and the dispatcher for the upgrade)."""

    def __new__(cls, application: Any, request: Any, **kwargs: Any) -> Any:
        if cls is GraphQLHandler and request.headers.get("Upgrade", "").lower() == "websocket":
            # Not an instance of cls: Python does not call __init__ again on it.
            return GraphQLSocket(application, request, **kwargs)
        return super().__new__(cls)

    async def post(self) -> None:
        body = self.json_body()
        if not isinstance(body, dict):
            raise invalid("body", "must be a JSON object with a `query`")
        await self._run(
            Operation(body.get("query"), body.get("variables"), body.get("operationName")),
            QUERIES_AND_MUTATIONS,
        )

    async def get(self) -> None:
        raw = self.get_query_argument("variables", None)
        variables = jsonbody.loads(raw.encode("utf-8")) if raw else None
        await self._run(
            Operation(
                self.get_query_argument("query", None),
                variables,
                self.get_query_argument("operationName", None),
            ),
            QUERIES_ONLY,
        )

    async def _run(self, operation: Operation, allowed: Any) -> None:
        context = GraphQLContext(self.axon, self.principal)
        try:
            result = await run_operation(context, operation, allowed=allowed)
        except RequestError as exc:
            self.write_json({"errors": [format_error(e) for e in exc.errors]}, exc.status)
            return
        self.write_json(result_body(result))


routes = [(r"/graphql", GraphQLHandler)]
