"""What the sync and async clients share: configuration, credentials, request building,
retries, token refresh, error mapping and parsing.

The request logic is written once, as a generator (`BaseClient._flow`) that never does
I/O itself: it yields `_Send(request)`, `_Sleep(seconds)` or `_Refresh(token)` and is
resumed with the outcome. `AxonOS` drives it with blocking httpx calls and
`time.sleep`, `AsyncAxonOS` with `await`; that driver loop is the only code that
differs between them. Must not import the clients or resources (they import this).
"""

from __future__ import annotations

import base64
import json
import os
import random
import time
import urllib.parse
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Generic, TypeVar

import httpx

from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    InternalServerError,
    RateLimitError,
    error_from_response,
)
from ._types import Token
from ._version import __version__

T = TypeVar("T")

DEFAULT_BASE_URL = "http://127.0.0.1:8888/axon/v1"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_RETRY_DELAY = 30.0
INITIAL_RETRY_DELAY = 0.5
MAX_BACKOFF = 8.0
# Refresh a login token this long before it expires, so a request never carries a
# token that dies in flight.
REFRESH_MARGIN = 30.0
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

_NO_CREDENTIALS = (
    "No Axon credentials. Pass api_key=... or token=... to the client, set AXON_API_KEY "
    "or AXON_TOKEN in the environment, or log in with AxonOS.login(email, password, "
    "base_url=...). Create an API key with `jupyter axon create-api-key --email YOU`."
)


def normalize_base_url(url: str) -> str:
    """The API root, without a trailing slash.

    A Jupyter server URL is accepted too: when the path does not already end in a
    version segment (`/v1`), the API mount `/axon/v1` is appended, so
    `http://127.0.0.1:8888` and `http://127.0.0.1:8888/axon/v1` mean the same server.
    """
    url = url.strip()
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigurationError(
            f"base_url must be an absolute http(s) URL such as {DEFAULT_BASE_URL!r}, got {url!r}"
        )
    path = parsed.path.rstrip("/")
    if not path.rsplit("/", 1)[-1].startswith("v") or not path.rsplit("/", 1)[-1][1:].isdigit():
        path = f"{path}/axon/v1"
    return urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, path, "", ""))


def websocket_url(base_url: str) -> str:
    """`http(s)://host/.../axon/v1` -> `ws(s)://host/.../axon/v1/ws`."""
    parsed = urllib.parse.urlsplit(base_url)
    scheme = "wss" if parsed.scheme == "https" else "ws"
    return urllib.parse.urlunsplit((scheme, parsed.netloc, parsed.path + "/ws", "", ""))


def quote(segment: Any) -> str:
    """A path parameter, percent-encoded so an id can never change the route."""
    text = str(segment)
    if not text:
        raise ValueError("a path parameter must not be empty")
    return urllib.parse.quote(text, safe="")


def clean_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Query parameters without the Nones; booleans as the server reads them."""
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


def timeout_for_wait(
    wait: float | None,
    timeout: float | httpx.Timeout | None,
    default: float | httpx.Timeout | None,
) -> float | httpx.Timeout | None:
    """The timeout of a call that asks the server to hold its answer up to `wait` seconds
    (`?wait=`): an explicit `timeout` wins, else a read timeout a little past the wait."""
    if timeout is not None or wait is None:
        return timeout
    base = default.read if isinstance(default, httpx.Timeout) else default
    return None if base is None else max(base, wait + 10.0)


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey")


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT, read without verifying it (only to time a refresh)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    return float(exp) if isinstance(exp, int | float) else None


class Credentials:
    """What the client authenticates with; updated in place by login/refresh/logout."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        token: str | None = None,
        refresh_token: str | None = None,
        expires_at: float | None = None,
    ) -> None:
        self.api_key = api_key
        self.token = token
        self.refresh_token = refresh_token
        self.expires_at = (
            expires_at if expires_at is not None else (jwt_expiry(token) if token else None)
        )

    @property
    def configured(self) -> bool:
        return bool(self.api_key or self.token)

    @property
    def can_refresh(self) -> bool:
        return bool(self.refresh_token)

    def needs_refresh(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return (
            self.can_refresh
            and self.token is not None
            and self.expires_at is not None
            and now >= self.expires_at - REFRESH_MARGIN
        )

    def headers(self) -> dict[str, str]:
        # An API key wins: it is the credential the user chose for unattended use.
        if self.api_key:
            return {"X-API-Key": self.api_key}
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        return {}

    def secret(self) -> str | None:
        """The credential a WebSocket `auth` message carries."""
        return self.api_key or self.token

    @property
    def is_jupyter_token(self) -> bool:
        """A bearer token that is not an Axon JWT: a Jupyter server's token. Jupyter
        accepts it on REST as a Bearer; a WebSocket must present it on the upgrade."""
        return not self.api_key and bool(self.token) and not looks_like_jwt(self.token or "")

    def apply(self, token: Token) -> None:
        self.token = token.token
        if token.refresh_token:
            self.refresh_token = token.refresh_token
        self.expires_at = (
            time.time() + token.expires_in if token.expires_in else jwt_expiry(token.token)
        )

    def apply_login(self, token: Token) -> None:
        """A fresh login replaces whatever credential the client had (an API key too)."""
        self.api_key = None
        self.apply(token)

    def clear_login(self, _: Any = None) -> None:
        self.token = None
        self.refresh_token = None
        self.expires_at = None


@dataclass(frozen=True)
class PageSpec:
    """How a paged list answer is read: the items' key and their record type."""

    key: str
    model: Callable[[Any], Any]


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call, transport-free: everything needed to send it and read its answer."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] | None = None
    cast: Callable[[Any], T] | None = None  # JSON -> result; None returns the JSON
    page: PageSpec | None = None
    authenticated: bool = True
    # None: decided by the method (GET/PUT/DELETE yes, POST no). True marks a POST that
    # may be repeated safely (e.g. stop); False forbids retrying even a GET.
    idempotent: bool | None = None
    # Refresh-and-retry on an expired login; off for the refresh call itself.
    refresh_on_expired: bool = True
    timeout: float | httpx.Timeout | None = None
    on_success: Callable[[Any], None] | None = field(default=None, compare=False)

    @property
    def retry_safe(self) -> bool:
        if self.idempotent is not None:
            return self.idempotent
        return self.method.upper() in IDEMPOTENT_METHODS

    def with_params(self, **params: Any) -> Call[T]:
        return replace(self, params={**(self.params or {}), **params})


@dataclass(frozen=True)
class _Send:
    request: httpx.Request


@dataclass(frozen=True)
class _Sleep:
    seconds: float


@dataclass(frozen=True)
class _Refresh:
    stale_token: str | None


@dataclass(frozen=True)
class _Do:
    """In a procedure: make this API call and resume with its result."""

    call: Call[Any]


@dataclass(frozen=True)
class _Emit:
    """In a procedure: hand this item to the caller's iterator."""

    item: Any


Action = _Send | _Sleep | _Refresh
Flow = Generator[Action, Any, T]
# Multi-call operations (wait, tail, ...) are procedures: generators yielding _Do, _Sleep
# and _Emit, driven by each client exactly as it drives a single call's flow.
Procedure = Generator[_Do | _Sleep | _Emit, Any, T]


def _connection_error(request: httpx.Request, exc: httpx.TransportError) -> APIConnectionError:
    timed_out = isinstance(exc, httpx.TimeoutException)
    cls = APITimeoutError if timed_out else APIConnectionError
    what = "timed out" if timed_out else "could not reach the server"
    error = cls(
        f"{request.method} {request.url} {what} ({type(exc).__name__}: {exc})", request=request
    )
    error.__cause__ = exc
    return error


class BaseClient:
    """Configuration and the transport-free request logic of both clients."""

    # The page class of this client (SyncPage or AsyncPage): fetches the next page.
    _page_type: ClassVar[Any]

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
        _require_credentials: bool = True,
    ) -> None:
        if api_key is None and token is None:
            api_key = os.environ.get("AXON_API_KEY") or None
            token = None if api_key else (os.environ.get("AXON_TOKEN") or None)
        self.credentials = Credentials(api_key=api_key, token=token, refresh_token=refresh_token)
        if _require_credentials and not self.credentials.configured:
            raise ConfigurationError(_NO_CREDENTIALS)
        self.base_url = normalize_base_url(
            base_url or os.environ.get("AXON_URL") or DEFAULT_BASE_URL
        )
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_delay = max_retry_delay
        self.default_headers = {
            "Accept": "application/json",
            "User-Agent": f"axonos-python/{__version__}",
            **(default_headers or {}),
        }

    def __repr__(self) -> str:
        via = "api_key" if self.credentials.api_key else "token" if self.credentials.token else None
        return f"<{type(self).__name__} base_url={self.base_url!r} auth={via}>"

    @property
    def websocket_url(self) -> str:
        return websocket_url(self.base_url)

    # ------------------------------------------------------------ request building
    def _build_request(
        self, http: httpx.Client | httpx.AsyncClient, call: Call[Any]
    ) -> httpx.Request:
        headers = dict(self.default_headers)
        if call.authenticated:
            headers.update(self.credentials.headers())
        headers.update(call.headers or {})
        kwargs: dict[str, Any] = {}
        if call.json is not None:
            kwargs["json"] = call.json
        elif call.method.upper() in ("POST", "PUT", "PATCH"):
            kwargs["content"] = b""
        timeout = call.timeout if call.timeout is not None else self.timeout
        return http.build_request(
            call.method.upper(),
            f"{self.base_url}/{call.path.lstrip('/')}",
            params=clean_params(call.params),
            headers=headers,
            timeout=timeout,
            **kwargs,
        )

    # ------------------------------------------------------------ retry policy
    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... capped at 8 s."""
        delay = min(INITIAL_RETRY_DELAY * 2 ** (attempt - 1), MAX_BACKOFF)
        return delay * (0.75 + random.random() / 4)

    def _retry_delay(
        self, call: Call[Any], error: APIError | APIConnectionError, attempt: int
    ) -> float | None:
        """Seconds to sleep before retry number `attempt`, or None to give up now."""
        if attempt > self.max_retries:
            return None
        if isinstance(error, RateLimitError):
            # Refused before any work was done, so safe for every method. A wait longer
            # than the cap is the caller's decision, not a silent sleep.
            if error.retry_after is None:
                return self._backoff(attempt)
            return error.retry_after if error.retry_after <= self.max_retry_delay else None
        if isinstance(error, APITimeoutError | APIConnectionError):
            cause = error.__cause__
            never_sent = isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout)
            return self._backoff(attempt) if (never_sent or call.retry_safe) else None
        if isinstance(error, InternalServerError) and call.retry_safe:
            return self._backoff(attempt)
        return None

    # ------------------------------------------------------------ the flow
    def _flow(self, http: httpx.Client | httpx.AsyncClient, call: Call[T]) -> Flow[Any]:
        """Send `call` with retries and token refresh; return the parsed answer."""
        attempt = 0
        refreshed = False
        while True:
            if call.authenticated and self.credentials.needs_refresh():
                yield _Refresh(self.credentials.token)
            request = self._build_request(http, call)
            sent_token = self.credentials.token
            outcome = yield _Send(request)
            if isinstance(outcome, httpx.TransportError):
                error: APIError | APIConnectionError = _connection_error(request, outcome)
            else:
                response: httpx.Response = outcome
                if response.is_success:
                    result = self._parse(call, response)
                    if call.on_success is not None:
                        call.on_success(result)
                    return result
                error = error_from_response(response)
                if (
                    isinstance(error, AuthenticationError)
                    and error.reason == "token_expired"
                    and call.refresh_on_expired
                    and not refreshed
                    and self.credentials.can_refresh
                    and not self.credentials.api_key
                ):
                    refreshed = True
                    yield _Refresh(sent_token)
                    continue
            attempt += 1
            delay = self._retry_delay(call, error, attempt)
            if delay is None:
                raise error
            yield _Sleep(delay)

    def _parse(self, call: Call[T], response: httpx.Response) -> Any:
        data: Any = None
        if response.status_code != 204 and response.content:
            try:
                data = response.json()
            except ValueError as exc:
                raise APIError(
                    "the server answered with something that is not JSON",
                    code="INVALID_RESPONSE",
                    status=response.status_code,
                    request_id=response.headers.get("x-request-id"),
                    response=response,
                ) from exc
        if call.page is not None:
            return self._make_page(call, data)
        return call.cast(data) if call.cast is not None else data

    def _make_page(self, call: Call[Any], data: Any) -> Any:
        return self._page_type.from_answer(self, call, data)

    def _refresh_if_due_flow(self) -> Flow[None]:
        """Refresh a login token about to expire (before a WebSocket presents it)."""
        if self.credentials.needs_refresh():
            yield _Refresh(self.credentials.token)

    def _refresh_call(self, refresh_token: str | None = None) -> Call[Token]:
        token = refresh_token or self.credentials.refresh_token
        if not token:
            raise ConfigurationError(
                "No refresh token: log in with AxonOS.login(...) or pass refresh_token=..."
            )
        own = refresh_token is None or refresh_token == self.credentials.refresh_token
        return Call(
            "POST",
            "auth/refresh",
            json={"refresh_token": token},
            cast=Token.from_api,
            authenticated=False,
            refresh_on_expired=False,
            # Never repeat a refresh blindly: a rotated token sent twice revokes the login.
            idempotent=False,
            on_success=self.credentials.apply if own else None,
        )
