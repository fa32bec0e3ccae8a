"""The one base handler: authentication, body limits, strict JSON, the error envelope.

Jupyter sits in front: its prepare() checks the host, resolves Jupyter's own identity
and enforces XSRF on writes. We keep all of that, and add Axon's rules:
- a request carrying an Axon credential in a header (Bearer JWT, X-API-Key) is not
  cookie-borne, so XSRF does not apply to it; cookie requests still need XSRF;
- with no Axon credential, a Jupyter-authenticated request acts as the server owner's
  Axon account (unless trust_jupyter_identity is off);
- every failure, including tornado's own 404/405 and uncaught exceptions, is written as
  the seed's envelope with X-Request-Id, and 401 carries WWW-Authenticate: Bearer.
"""

from __future__ import annotations

import itertools
import logging
import secrets
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..auth.identity import Principal
from ..auth.ratelimit import Decision
from ..errors import (
    STATUS_TO_ERROR,
    AxonError,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    ValidationError,
)
from ..runtime import AxonRuntime
from . import jsonbody

log = logging.getLogger("axon.api")

# Request ids: a per-process random prefix and a counter. Unique and cheap; they only
# need to correlate a response with its log line, not to be unguessable.
_REQUEST_PREFIX = secrets.token_hex(4)
_request_counter = itertools.count(1)


def next_request_id() -> str:
    return f"{_REQUEST_PREFIX}{next(_request_counter):08x}"


HTTP_VERBS = ("get", "post", "put", "patch", "delete", "head", "options")


@web.stream_request_body
class AxonHandler(ExtensionHandlerMixin, APIHandler):
    """Base of every Axon REST handler."""

    auth_required = True
    # HTTP verb -> the scope an API key or OAuth token must carry (login tokens and
    # Jupyter sessions carry the user's full rights). Missing scope: 403 naming it.
    required_scopes: dict[str, str] = {}
    principal: Principal
    # The rate-limit answer for this request's user, once counted (see count_request).
    rate_decision: Decision | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Jupyter would otherwise redirect or 403 requests it did not authenticate
        # itself; Axon authenticates them below and answers 401 in its envelope.
        super().__init_subclass__(**kwargs)
        for verb in HTTP_VERBS:
            method = cls.__dict__.get(verb)
            if method is not None:
                # setattr: `method.__allow...` inside a class body would be name-mangled.
                setattr(method, "__allow_unauthenticated", True)

    @property
    def axon(self) -> AxonRuntime:
        return self.settings["axon"]

    # ------------------------------------------------------------ request lifecycle
    def _implements(self, verb: str) -> bool:
        return getattr(type(self), verb) is not getattr(web.RequestHandler, verb)

    async def prepare(self) -> None:
        self.request_id = next_request_id()
        self.set_header("X-Request-Id", self.request_id)
        self._body_chunks: list[bytes] = []
        self._body_size = 0
        self._body_too_large = False
        method = (self.request.method or "").lower()
        if method not in HTTP_VERBS or not self._implements(method):
            raise MethodNotAllowed(f"{self.request.method} is not allowed here")
        length = self.request.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > self.axon.config.max_body_size:
            raise PayloadTooLarge(
                "request body too large", {"limit_bytes": self.axon.config.max_body_size}
            )
        await super().prepare()
        await self.axon.ready()
        if self.auth_required:
            self.principal = await self.authenticate()
            self.count_request(self.principal)
            scope = self.required_scopes.get(method)
            if scope is not None and not self.principal.has_scope(scope):
                raise Forbidden(f"missing scope {scope}", {"scope": scope})

    def data_received(self, chunk: bytes) -> None:
        # The cap is enforced while streaming: an oversized chunked body is never held.
        self._body_size += len(chunk)
        if self._body_size > self.axon.config.max_body_size:
            self._body_too_large = True
            self._body_chunks.clear()
        elif not self._body_too_large:
            self._body_chunks.append(chunk)

    def _body_unread(self) -> bool:
        """True when the answer goes out before the request body was read (an error in
        prepare()): tornado then drops the connection, so the client must be told."""
        length = self.request.headers.get("Content-Length", "")
        if length.isdigit():
            return int(length) > getattr(self, "_body_size", 0)
        return "chunked" in self.request.headers.get("Transfer-Encoding", "").lower()

    def raw_body(self) -> bytes:
        if self._body_too_large:
            raise PayloadTooLarge(
                "request body too large", {"limit_bytes": self.axon.config.max_body_size}
            )
        return b"".join(self._body_chunks)

    def json_body(self, *, default: Any = None) -> Any:
        raw = self.raw_body()
        if not raw.strip():
            if default is not None:
                return default
            raise ValidationError(
                "Request body is required", {"field": "body", "issue": "is required"}
            )
        return jsonbody.loads(raw)

    # ------------------------------------------------------------ identity
    def _bearer(self) -> str | None:
        header = self.request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None

    def _axon_credential(self) -> tuple[str, str] | None:
        """The Axon credential in the headers, if any (the Jupyter token is not one)."""
        key = self.request.headers.get("X-API-Key")
        if key:
            return "api_key", key
        bearer = self._bearer()
        if bearer is not None and not self.token_authenticated:
            return "bearer", bearer
        return None

    def check_xsrf_cookie(self) -> None:
        # XSRF protects ambient (cookie) credentials only. A request that carries an Axon
        # credential in a header, or that Jupyter did not authenticate at all, will act
        # through no cookie: it either presents its own credential or gets a 401.
        if hasattr(self, "_jupyter_current_user") and (
            not self.auth_required
            or self._axon_credential() is not None
            or self._jupyter_current_user is None
        ):
            return None
        return super().check_xsrf_cookie()

    async def authenticate(self) -> Principal:
        credential = self._axon_credential()
        if credential is not None:
            kind, value = credential
            if kind == "api_key":
                return await self.axon.auth.authenticate_api_key(value)
            return await self.axon.auth.authenticate_bearer(value)
        if self.current_user is not None and self.axon.config.trust_jupyter_identity:
            user = await self.axon.owner(getattr(self.current_user, "username", None))
            return Principal(user=user, via="jupyter")
        raise Unauthorized("Authentication required", {"reason": "missing_credentials"})

    def count_request(self, principal: Principal, cost: int = 1) -> None:
        """Charge `cost` requests to the principal's user (one budget per user, whichever
        credential or transport) and put X-RateLimit-* on the response; over the
        budget: 429 RATE_LIMITED with Retry-After."""
        decision = self.axon.limiter.hit(principal.user, cost)
        if decision is None:
            return
        self.rate_decision = decision
        for name, value in decision.headers().items():
            self.set_header(name, value)
        if not decision.allowed:
            raise RateLimited(
                decision.retry_after,
                message=f"Rate limit of {decision.limit} requests exceeded",
                details={
                    "limit": decision.limit,
                    "reset": decision.reset,
                    "retry_after": decision.retry_after,
                },
            )

    # ------------------------------------------------------------ responses
    def compute_etag(self) -> None:
        # Tornado would hash every GET body for an ETag; Axon sets meaningful ETags
        # (workflow versions) itself where concurrency control needs them.
        return None

    def write_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(jsonbody.dumps(value))

    def created(self, value: Any, location: str | None = None) -> None:
        if location:
            self.set_header("Location", location)
        self.write_json(value, 201)

    def no_content(self) -> None:
        self.set_status(204)
        self.finish()

    def _as_axon_error(self, status_code: int, exc: BaseException | None) -> AxonError:
        if isinstance(exc, AxonError):
            return exc
        if isinstance(exc, web.HTTPError) or exc is None:
            cls = STATUS_TO_ERROR.get(status_code)
            if cls is not None:
                message = getattr(exc, "log_message", None) if exc is not None else None
                return cls(message or None)
            if status_code < 500:
                err = AxonError(f"HTTP {status_code}")
                err.status, err.code = status_code, "BAD_REQUEST"
                return err
        return AxonError("Internal server error", {"request_id": getattr(self, "request_id", None)})

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        err = self._as_axon_error(status_code, exc)
        self.set_status(err.status)
        self.clear_header("Location")
        # send_error() cleared the headers set in prepare(); the id must survive.
        if getattr(self, "request_id", None):
            self.set_header("X-Request-Id", self.request_id)
        if self.rate_decision is not None:
            for name, value in self.rate_decision.headers().items():
                self.set_header(name, value)
        if err.status == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="axon"')
        if self._body_unread():
            # Without this header a keep-alive client would send its next request on a
            # connection tornado is about to close, and see it dropped without answer.
            self.set_header("Connection", "close")
        if isinstance(err, RateLimited):
            self.set_header("Retry-After", str(err.retry_after))
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(jsonbody.dumps(err.envelope()))

    def log_exception(self, typ, value, tb) -> None:  # type: ignore[override]
        if isinstance(value, AxonError) and value.status < 500:
            log.debug(
                "%s %s -> %s %s", self.request.method, self.request.path, value.status, value.code
            )
            return
        if isinstance(value, AxonError):
            log.warning(
                "request %s: %s %s", getattr(self, "request_id", "-"), value.code, value.message
            )
            return
        log.error(
            "request %s failed: %s %s",
            getattr(self, "request_id", "-"),
            self.request.method,
            self.request.path,
            exc_info=(typ, value, tb),
        )


class NotFoundHandler(AxonHandler):
    """Unknown paths under the API answer the envelope, not Jupyter's HTML page."""

    auth_required = False

    async def prepare(self) -> None:
        self.request_id = next_request_id()
        self.set_header("X-Request-Id", self.request_id)
        raise NotFound(f"No such endpoint: {self.request.path}")

    async def get(self, *_: str) -> None:  # pragma: no cover - prepare always raises
        raise NotFound()
