"""WebSocket transport: the `/axon/v1/ws` event stream, and the base of every Axon socket.

`AxonSocketHandler` is what the event stream and GraphQL's graphql-transport-ws socket
share. It keeps Jupyter's rules (host check and Jupyter identity from
`JupyterHandler.prepare`, the origin rule of `WebSocketMixin`) and adds Axon's:
- credentials: a JWT (login or OAuth) or an API key, checked by `AuthService`; a
  connection that Jupyter authenticated (token or cookie) acts as the server owner, but
  only from an allowed origin: a cross-origin page never rides the browser's cookie and
  must present an Axon credential itself;
- inbound frames are capped (`ws_max_message_size`, tornado closes with 1009);
- the credential is re-checked on a timer (revocation) and the socket ends when a token
  expires (4401);
- protocol-level pings (`ws_ping_interval`), and 1001 for every live socket at shutdown;
- every inbound message of an authenticated user counts against the user's rate limit
  (`charge_rate_limit`, shared with GraphQL); over it, the message is answered with a
  RATE_LIMITED error and not acted on.

`EventSocket` speaks the seed's WebSocket API (JSON text frames):
    -> {"type": "auth", "token": "<JWT or API key>"}           first, within ws_auth_timeout
    <- {"type": "auth_ok", "data": {"user": {...}, "subscriptions": {...}}}
    <- {"type": "execution_update" | "node_update" | "notification" | "system_health",
        "data": {...}}                                           events the user owns
    -> {"type": "subscribe" | "unsubscribe", "workflow_id" | "execution_id": "..."}
    <- {"type": "subscribed" | "unsubscribed", "data": {"subscriptions": {...}}}
    -> {"type": "ping"}  <- {"type": "pong"}
    <- {"type": "error", "data": {"code", "message", "details"}}  (the envelope's error)
Close codes: 4401 bad, expired or revoked credential; 4408 no auth in time; 4400 a
malformed first message; 1009 frame too large; 1013 slow consumer (fell
`ws_queue_size` events behind); 1001 server shutdown.

Transport only: ownership is answered by the services, never by the store.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import OrderedDict
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import ioloop
from tornado.iostream import StreamBufferFullError, StreamClosedError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..auth.apikeys import looks_like_api_key
from ..auth.identity import Principal
from ..engine.events import Event, SlowConsumer, Subscription, SubscriptionClosed
from ..errors import AxonError, Forbidden, RateLimited, Unauthorized, ValidationError
from ..runtime import AxonRuntime
from . import jsonbody

log = logging.getLogger("axon.ws")

GOING_AWAY = 1001
TRY_AGAIN_LATER = 1013
BAD_REQUEST = 4400
UNAUTHORIZED = 4401
FORBIDDEN = 4403
AUTH_TIMEOUT = 4408
# Most bytes a socket may have waiting to be sent. Events wait in the bounded bus queue
# and are written one batch at a time after the previous one flushed, so this bounds only
# unawaited replies (pong, errors) to a client that sends without reading.
WRITE_BUFFER_CAP = 4 * 1024 * 1024


def charge_rate_limit(runtime: AxonRuntime, principal: Principal, cost: int = 1) -> None:
    """Count one WebSocket message or GraphQL-over-WebSocket operation against the user's
    budget (the same limiter, and the same 429 details, as every HTTP request)."""
    decision = runtime.limiter.hit(principal.user, cost)
    if decision is not None and not decision.allowed:
        raise RateLimited(
            decision.retry_after,
            message=f"Rate limit of {decision.limit} requests exceeded",
            details={
                "limit": decision.limit,
                "reset": decision.reset,
                "retry_after": decision.retry_after,
            },
        )


def _user_api(principal: Principal) -> dict[str, Any]:
    user = principal.user
    return {"id": user.id, "email": user.email, "name": user.name}


class AxonSocketHandler(ExtensionHandlerMixin, WebSocketHandler, JupyterHandler):
    """Base of Axon's WebSockets: Jupyter's host/origin rules plus Axon's credentials."""

    principal: Principal | None = None
    auth_required = False  # the socket authenticates itself, by message (4401, 4408)

    def initialize(self, **kwargs: Any) -> None:
        super().initialize(**kwargs)
        self.principal = None
        self._credential: str | None = None
        self._timers: list[object] = []
        self._recheck: ioloop.PeriodicCallback | None = None
        # No Origin header: not a browser, so no ambient-credential risk (Jupyter's rule);
        # tornado calls check_origin() below only when the header is present.
        self._same_origin = True
        self._closing_hook = self._shutdown

    # ------------------------------------------------------------ tornado / Jupyter
    @property
    def axon(self) -> AxonRuntime:
        return self.settings["axon"]

    @property
    def max_message_size(self) -> int:  # type: ignore[override]
        return self.axon.config.ws_max_message_size

    @property
    def ping_interval(self) -> float | None:  # type: ignore[override]
        return self.axon.config.ws_ping_interval or None

    @property
    def ping_timeout(self) -> float | None:  # type: ignore[override]
        return self.axon.config.ws_ping_interval or None

    def set_default_headers(self) -> None:
        """No HTML security headers on an upgrade (as jupyter_server's kernel socket)."""

    def get_compression_options(self) -> dict[str, Any] | None:
        return None  # per-message deflate would multiply per-connection memory

    async def prepare(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # Host check and Jupyter identity; never a login redirect on a socket.
        await JupyterHandler.prepare(self, _redirect_to_login=False)
        await self.axon.ready()

    def check_origin(self, origin: str) -> bool:
        # Jupyter's rule decides whether the ambient (cookie or URL token) identity may be
        # used. A cross-origin upgrade is still accepted: it must authenticate with an
        # Axon credential in a message, which a foreign page cannot take from the browser.
        self._same_origin = bool(WebSocketMixin.check_origin(self, origin))  # type: ignore[arg-type]
        return True

    async def get(self, *args: Any, **kwargs: Any) -> None:
        await super().get(*args, **kwargs)

    # Axon authenticates the socket itself (auth message, 4401): let Jupyter pass it on.
    setattr(get, "__allow_unauthenticated", True)

    def open(self, *args: Any, **kwargs: Any) -> None:
        self.axon.closing_hooks.append(self._closing_hook)
        # Replies (pong, errors) are not awaited; a client that sends but never reads
        # must not make the server buffer them without bound.
        self.ws_connection.stream.max_write_buffer_size = WRITE_BUFFER_CAP  # type: ignore[union-attr]

    def on_close(self) -> None:
        if self._closing_hook in self.axon.closing_hooks:
            self.axon.closing_hooks.remove(self._closing_hook)
        self._cancel_watch()
        self.connection_closed()

    def connection_closed(self) -> None:
        """Release what the subclass holds (subscriptions, tasks)."""

    def _shutdown(self) -> None:
        self.end(GOING_AWAY, "server shutting down")

    def end(self, code: int, reason: str) -> None:
        """Close with `code`; a peer whose buffer is full gets no close frame, just the
        end of the connection (it is not reading anyway)."""
        try:
            self.close(code, reason)
        except StreamBufferFullError:
            self._overflowed()

    def _overflowed(self) -> None:
        log.info("ws: dropping a peer that does not read (%s buffered)", WRITE_BUFFER_CAP)
        conn = self.ws_connection
        if conn is not None:
            conn.stream.close()  # type: ignore[attr-defined]

    # ------------------------------------------------------------ identity
    async def jupyter_principal(self) -> Principal | None:
        """The owner's principal when Jupyter authenticated this same-origin upgrade."""
        if (
            self.current_user is None
            or not self._same_origin
            or not self.axon.config.trust_jupyter_identity
        ):
            return None
        user = await self.axon.owner(getattr(self.current_user, "username", None))
        return Principal(user=user, via="jupyter")

    async def authenticate_token(self, token: Any) -> Principal:
        """A JWT (login or OAuth) or an API key, exactly as the REST API checks them."""
        if not isinstance(token, str) or not token or len(token) > 8192:
            raise Unauthorized("a token is required", {"reason": "missing_credentials"})
        if looks_like_api_key(token):
            return await self.axon.auth.authenticate_api_key(token)
        jupyter_token = getattr(self.identity_provider, "token", "") or ""
        if (
            jupyter_token
            and self.axon.config.trust_jupyter_identity
            and hmac.compare_digest(token.encode(), jupyter_token.encode())
        ):
            # Jupyter's own token acts as the owner here too, as it does over REST.
            user = await self.axon.owner()
            return Principal(user=user, via="jupyter")
        return await self.axon.auth.authenticate_bearer(token)

    def authenticated(self, principal: Principal, credential: str | None) -> None:
        """Adopt `principal` and keep watching its credential until the socket ends."""
        self.principal = principal
        self._credential = credential
        self._cancel_watch()
        if credential is None:
            return  # a Jupyter session has no Axon credential to expire or revoke
        loop = ioloop.IOLoop.current()
        if principal.token_exp is not None:
            delay = max(0.0, principal.token_exp - time.time())
            self._timers.append(loop.call_later(delay, self.end, UNAUTHORIZED, "token expired"))
        interval = self.axon.config.ws_auth_recheck_interval
        if interval > 0:
            self._recheck = ioloop.PeriodicCallback(self._recheck_credential, interval * 1000)
            self._recheck.start()

    async def _recheck_credential(self) -> None:
        credential = self._credential
        if credential is None or self.ws_connection is None:
            return
        try:
            await self.authenticate_token(credential)
        except Unauthorized as exc:
            reason = exc.details.get("reason", "invalid_credentials")
            self.end(UNAUTHORIZED, f"credential no longer valid: {reason}")
        except AxonError as exc:  # store trouble: keep the socket, check again later
            log.warning("ws credential re-check failed: %s", exc.message)

    def _cancel_watch(self) -> None:
        loop = ioloop.IOLoop.current()
        for handle in self._timers:
            loop.remove_timeout(handle)
        self._timers.clear()
        if self._recheck is not None:
            self._recheck.stop()
            self._recheck = None

    def after(self, delay: float, callback: Any, *args: Any) -> None:
        """A timer that dies with the connection."""
        self._timers.append(ioloop.IOLoop.current().call_later(delay, callback, *args))

    def charge(self) -> None:
        if self.principal is not None:
            charge_rate_limit(self.axon, self.principal)

    # ------------------------------------------------------------ output
    def send_text(self, text: str) -> asyncio.Future | None:
        """Queue one frame; None when the socket is already gone."""
        if self.ws_connection is None or self.ws_connection.is_closing():
            return None
        try:
            return self.write_message(text)
        except WebSocketClosedError:
            return None
        except StreamBufferFullError:
            self._overflowed()
            return None

    def send_json(self, message: dict[str, Any]) -> asyncio.Future | None:
        return self.send_text(jsonbody.dumps(message).decode("utf-8"))

    def send_frames(self, frames: bytes) -> asyncio.Future | None:
        """Write ready-made text frames (see `event_frame`) in one go: one buffer
        append and one send for a whole batch of events. Compression is off on Axon
        sockets (get_compression_options), so these are exactly the bytes tornado's
        write_message would produce, frame by frame. None when the socket is gone."""
        conn = self.ws_connection
        if conn is None or conn.is_closing():
            return None
        try:
            return conn.stream.write(frames)  # type: ignore[attr-defined]
        except StreamClosedError:
            return None
        except StreamBufferFullError:
            self._overflowed()
            return None


def text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked WebSocket text frame (RFC 6455 5.2): what a server
    sends when compression is off, identical for every connection."""
    n = len(payload)
    if n < 126:
        head = bytes((0x81, n))
    elif n <= 0xFFFF:
        head = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return head + payload


# One encoding and one frame per event however many sockets deliver it (fan-out to 1,000
# subscribers would otherwise serialize and frame the same dict 1,000 times). Events
# arrive in order, so a small window of recent ones is enough; the entry holds the event
# itself, so a hit is the very same object (sequence numbers restart with each bus).
_encoded: OrderedDict[int, tuple[Event, bytes]] = OrderedDict()
_ENCODED_KEEP = 256


def event_frame(event: Event) -> bytes:
    hit = _encoded.get(event.seq)
    if hit is not None and hit[0] is event:
        return hit[1]
    frame = text_frame(jsonbody.dumps(event.message()))
    _encoded[event.seq] = (event, frame)
    _encoded.move_to_end(event.seq)
    if len(_encoded) > _ENCODED_KEEP:
        _encoded.popitem(last=False)
    return frame


def _error(exc: AxonError) -> dict[str, Any]:
    return {"type": "error", "data": exc.envelope()["error"]}


class EventSocket(AxonSocketHandler):
    """`/axon/v1/ws`: the seed's event stream, per user, with subscribe filters."""

    def initialize(self, **kwargs: Any) -> None:
        super().initialize(**kwargs)
        self.subscription: Subscription | None = None
        self._pump: asyncio.Task | None = None
        self._busy = False  # an auth message is being checked

    async def open(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super().open()
        principal = await self.jupyter_principal()
        if principal is not None:
            self._start(principal, None)
        else:
            self.after(self.axon.config.ws_auth_timeout, self._auth_timeout)

    def _auth_timeout(self) -> None:
        if self.principal is None:
            self.end(AUTH_TIMEOUT, "authentication timeout")

    def _start(self, principal: Principal, credential: str | None) -> None:
        first = self.principal is None
        self.authenticated(principal, credential)
        if first:
            self.subscription = self.axon.events.subscribe(
                principal.user_id, maxsize=self.axon.config.ws_queue_size
            )
            self._pump = asyncio.ensure_future(self._deliver(self.subscription))
        self.send_json(
            {"type": "auth_ok", "data": {"user": _user_api(principal), **self._filters()}}
        )

    async def on_message(self, message: str | bytes) -> None:
        try:
            await self._handle(message)
        except AxonError as exc:
            if self.principal is None:
                code = UNAUTHORIZED if isinstance(exc, Unauthorized) else BAD_REQUEST
                self.end(code, exc.message[:120])
            else:
                self.send_json(_error(exc))

    async def _handle(self, raw: str | bytes) -> None:
        data = jsonbody.loads(raw.encode("utf-8") if isinstance(raw, str) else raw)
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise ValidationError(
                "a message is a JSON object with a string `type`",
                {"field": "type", "issue": "is required"},
            )
        kind = data["type"]
        if self.principal is None:
            if kind != "auth":
                raise Unauthorized("the first message must be auth", {"reason": "auth_first"})
            if self._busy:
                return
            self._busy = True
            try:
                principal = await self.authenticate_token(data.get("token"))
            finally:
                self._busy = False
            if self.ws_connection is not None:
                self._start(principal, data["token"])
            return
        self.charge()
        if kind == "ping":
            self.send_json({"type": "pong"})
        elif kind == "auth":
            # A fresh token before the old one expires keeps a long-lived socket open.
            principal = await self.authenticate_token(data.get("token"))
            if principal.user_id != self.principal.user_id:
                raise Forbidden("a connection serves one user", {"field": "token"})
            self._start(principal, data["token"])
        elif kind in ("subscribe", "unsubscribe"):
            await self._filter(kind, data)
        else:
            raise ValidationError(
                f"unknown message type {kind!r}",
                {
                    "field": "type",
                    "issue": "unknown",
                    "allowed": ["auth", "subscribe", "unsubscribe", "ping"],
                },
            )

    async def _filter(self, kind: str, data: dict[str, Any]) -> None:
        targets = {k: data.get(k) for k in ("workflow_id", "execution_id") if k in data}
        if len(targets) != 1 or not all(isinstance(v, str) and v for v in targets.values()):
            raise ValidationError(
                f"{kind} names exactly one workflow_id or execution_id",
                {"field": "workflow_id", "issue": "exactly one of workflow_id, execution_id"},
            )
        ((field, ident),) = targets.items()
        assert self.subscription is not None and self.principal is not None
        if kind == "subscribe":
            # Ownership through the same services as REST: someone else's id is 404.
            if field == "workflow_id":
                await self.axon.workflows.get(self.principal, ident)
            else:
                await self.axon.executions.get(self.principal, ident)
            self.subscription.narrow(**{field: ident})
        else:
            self.subscription.widen(**{field: ident})
        self.send_json({"type": f"{kind}d", "data": self._filters()})

    def _filters(self) -> dict[str, Any]:
        sub = self.subscription
        return {
            "subscriptions": {
                "workflow_ids": sorted(sub.workflow_ids) if sub else [],
                "execution_ids": sorted(sub.execution_ids) if sub else [],
            }
        }

    async def _deliver(self, sub: Subscription) -> None:
        """Write events in order; wait for each batch to flush, so a client that does not
        read leaves events in the bounded bus queue, which then cuts it off."""
        try:
            while True:
                frames = [event_frame(await sub.get())]
                while (event := sub.get_nowait()) is not None:
                    frames.append(event_frame(event))
                pending = self.send_frames(frames[0] if len(frames) == 1 else b"".join(frames))
                if pending is None:
                    return
                await pending
        except SlowConsumer as exc:
            log.info("ws: cutting off a slow consumer (user %s): %s", sub.user_id, exc)
            self.end(TRY_AGAIN_LATER, f"slow consumer: {exc}"[:120])
        except SubscriptionClosed:
            self.end(GOING_AWAY, "server shutting down")
        except (WebSocketClosedError, StreamClosedError):
            return

    def connection_closed(self) -> None:
        if self.subscription is not None:
            self.subscription.close()
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()


routes = [(r"/ws", EventSocket)]
