"""Every error the SDK raises, in one tree.

    AxonError                        anything raised by axonos
    ├── ConfigurationError           no server or no credentials configured
    ├── WaitTimeoutError             executions.wait()/stream() gave up (also a TimeoutError)
    ├── APIConnectionError           the request never got an answer
    │   └── APITimeoutError          ... because it timed out
    └── APIError                     the server answered with the error envelope
        ├── ValidationError          400 VALIDATION_ERROR
        ├── AuthenticationError      401 UNAUTHORIZED
        ├── PermissionDeniedError    403 FORBIDDEN
        ├── NotFoundError            404 NOT_FOUND
        ├── ConflictError            409 CONFLICT
        │   └── PreconditionFailedError  412 PRECONDITION_FAILED
        ├── PayloadTooLargeError     413 PAYLOAD_TOO_LARGE
        ├── RateLimitError           429 RATE_LIMITED (.retry_after seconds)
        └── InternalServerError      5xx INTERNAL_ERROR
            └── ServiceUnavailableError  503 UNAVAILABLE

`error_from_response()` is the one place that turns a status and an envelope into a
class: the envelope's `code` decides, the status is the fallback for answers that carry
no envelope (a proxy's 502, say).
"""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "AxonError",
    "ConfigurationError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "RateLimitError",
    "ServiceUnavailableError",
    "ValidationError",
    "WaitTimeoutError",
    "error_from_response",
]


class AxonError(Exception):
    """Base of everything axonos raises."""


class ConfigurationError(AxonError):
    """The client cannot work as configured (no server URL, no credentials...)."""


class WaitTimeoutError(AxonError, TimeoutError):
    """A wait for an execution ran out of time; `.execution` is the last state seen."""

    def __init__(self, message: str, execution: Any = None) -> None:
        super().__init__(message)
        self.execution = execution


class APIConnectionError(AxonError):
    """No answer from the server: refused, reset, DNS, TLS..."""

    def __init__(self, message: str = "Connection error", *, request: httpx.Request | None = None):
        super().__init__(message)
        self.request = request


class APITimeoutError(APIConnectionError):
    """The server did not answer within the configured timeout."""

    def __init__(self, message: str = "Request timed out", *, request: httpx.Request | None = None):
        super().__init__(message, request=request)


class APIError(AxonError):
    """The server answered with an error envelope `{"error": {code, message, details}}`."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.details = details or {}
        self.request_id = request_id
        self.response = response

    @property
    def status_code(self) -> int:
        """Alias of `status`, as httpx and openai name it."""
        return self.status

    @property
    def reason(self) -> str | None:
        """The machine-readable `details.reason` (e.g. `token_expired`), when given."""
        reason = self.details.get("reason")
        return reason if isinstance(reason, str) else None

    def __str__(self) -> str:
        text = f"{self.status} {self.code}: {self.message}"
        if self.details:
            text += f" {json.dumps(self.details, default=str, sort_keys=True)}"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text


class ValidationError(APIError):
    """400: the request was malformed; `details` names the field and the issue."""


class AuthenticationError(APIError):
    """401: missing, wrong, expired or revoked credentials (`reason` says which)."""


class PermissionDeniedError(APIError):
    """403: authenticated, but the credential lacks a scope or role (`details.scope`)."""


class NotFoundError(APIError):
    """404: no such object, or someone else's (the server does not tell them apart)."""


class ConflictError(APIError):
    """409: stale version, stopping a finished execution, duplicate node version..."""


class PreconditionFailedError(ConflictError):
    """412: the `If-Match` ETag is stale."""


class PayloadTooLargeError(APIError):
    """413: the request body is over the server's limit."""


class RateLimitError(APIError):
    """429: over the plan's request budget; retry after `retry_after` seconds.

    `limit`, `remaining` and `reset` (unix seconds) repeat the X-RateLimit-* headers."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        headers = self.response.headers if self.response is not None else {}
        self.limit = _int_header(headers, "x-ratelimit-limit")
        self.remaining = _int_header(headers, "x-ratelimit-remaining")
        self.reset = _int_header(headers, "x-ratelimit-reset")


class InternalServerError(APIError):
    """5xx: the server failed; `request_id` finds it in the server's log."""


class ServiceUnavailableError(InternalServerError):
    """503: the server is temporarily unable (database locked or full, shutting down)."""


_BY_CODE: dict[str, type[APIError]] = {
    "VALIDATION_ERROR": ValidationError,
    "UNAUTHORIZED": AuthenticationError,
    "FORBIDDEN": PermissionDeniedError,
    "NOT_FOUND": NotFoundError,
    "CONFLICT": ConflictError,
    "PRECONDITION_FAILED": PreconditionFailedError,
    "PAYLOAD_TOO_LARGE": PayloadTooLargeError,
    "RATE_LIMITED": RateLimitError,
    "INTERNAL_ERROR": InternalServerError,
    "UNAVAILABLE": ServiceUnavailableError,
}

_BY_STATUS: dict[int, type[APIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    412: PreconditionFailedError,
    413: PayloadTooLargeError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}

_DEFAULT_CODES = {cls: code for code, cls in _BY_CODE.items()}


def _int_header(headers: Any, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def retry_after_seconds(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds to wait before retrying: `Retry-After` (seconds or HTTP date), else
    `X-RateLimit-Reset` (unix seconds); None when the server gave no hint."""
    now = time.time() if now is None else now
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                pass
    reset = headers.get("x-ratelimit-reset")
    if reset:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return None
    return None


def error_class(status: int, code: str | None) -> type[APIError]:
    """The exception class for an error answer: by envelope code, else by status."""
    if code and code in _BY_CODE:
        return _BY_CODE[code]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return InternalServerError if status >= 500 else APIError


def error_from_response(response: httpx.Response) -> APIError:
    """Build the exception for a non-2xx answer, reading the envelope if there is one."""
    status = response.status_code
    code: str | None = None
    message: str | None = None
    details: dict[str, Any] = {}
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        envelope = body["error"]
        code = envelope.get("code") if isinstance(envelope.get("code"), str) else None
        message = envelope.get("message") if isinstance(envelope.get("message"), str) else None
        if isinstance(envelope.get("details"), dict):
            details = envelope["details"]
    cls = error_class(status, code)
    if code is None:
        code = _DEFAULT_CODES.get(cls, "HTTP_ERROR" if status < 500 else "INTERNAL_ERROR")
    if message is None:
        message = response.reason_phrase or f"HTTP {status}"
    kwargs: dict[str, Any] = {
        "code": code,
        "status": status,
        "details": details,
        "request_id": response.headers.get("x-request-id") or details.get("request_id"),
        "response": response,
    }
    if issubclass(cls, RateLimitError):
        kwargs["retry_after"] = retry_after_seconds(response.headers)
    return cls(message, **kwargs)
