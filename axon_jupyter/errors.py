"""The one error hierarchy of Axon.

Every layer raises these; the transport maps them to the seed's envelope
`{"error": {"code", "message", "details"}}` in exactly one place (api/base.py and the
GraphQL error formatter). Nothing here imports tornado.
"""

from __future__ import annotations

from typing import Any


class AxonError(Exception):
    """An error a client may see: a status, a stable code, a message and details."""

    status: int = 500
    code: str = "INTERNAL_ERROR"

    def __init__(self, message: str | None = None, details: dict[str, Any] | None = None):
        self.message = message or self.default_message
        self.details = details or {}
        super().__init__(self.message)

    default_message = "Internal server error"

    def envelope(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationError(AxonError):
    status, code, default_message = 400, "VALIDATION_ERROR", "Invalid input parameters"


class Unauthorized(AxonError):
    status, code, default_message = 401, "UNAUTHORIZED", "Authentication required"


class Forbidden(AxonError):
    status, code, default_message = 403, "FORBIDDEN", "Not allowed"


class NotFound(AxonError):
    status, code, default_message = 404, "NOT_FOUND", "Not found"


class MethodNotAllowed(AxonError):
    status, code, default_message = 405, "METHOD_NOT_ALLOWED", "Method not allowed"


class Conflict(AxonError):
    status, code, default_message = 409, "CONFLICT", "Conflict"


class PreconditionFailed(AxonError):
    status, code, default_message = 412, "PRECONDITION_FAILED", "Precondition failed"


class PayloadTooLarge(AxonError):
    status, code, default_message = 413, "PAYLOAD_TOO_LARGE", "Request body too large"


class RateLimited(AxonError):
    status, code, default_message = 429, "RATE_LIMITED", "Rate limit exceeded"

    def __init__(self, retry_after: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.retry_after = retry_after


class Unavailable(AxonError):
    status, code, default_message = 503, "UNAVAILABLE", "Service unavailable"


def not_found(kind: str, ident: str) -> NotFound:
    """The one 404 for objects: identical for missing and for someone else's."""
    return NotFound(f"{kind} not found", {"id": ident})


STATUS_TO_ERROR: dict[int, type[AxonError]] = {
    cls.status: cls
    for cls in (
        ValidationError,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PreconditionFailed,
        PayloadTooLarge,
        Unavailable,
    )
}
