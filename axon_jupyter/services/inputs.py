"""Small, strict readers for client input that answer VALIDATION_ERROR with details.

Every service reads request fields through these, so each bad field gets the same
`{"field": ..., "issue": ...}` details wherever it arrives from.
"""

from __future__ import annotations

from typing import Any

from ..errors import ValidationError

_MISSING = object()


def invalid(field: str, issue: str, **extra: Any) -> ValidationError:
    return ValidationError(f"Invalid {field}: {issue}", {"field": field, "issue": issue, **extra})


def require_object(value: Any, field: str = "body") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(field, "must be a JSON object")
    return value


def get_str(
    body: dict[str, Any],
    key: str,
    *,
    required: bool = False,
    default: str | None = None,
    max_len: int = 10_000,
    min_len: int = 0,
    choices: tuple[str, ...] | None = None,
    field: str | None = None,
) -> str | None:
    field = field or key
    value = body.get(key, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise invalid(field, "is required")
        return default
    if not isinstance(value, str):
        raise invalid(field, "must be a string")
    if len(value) < min_len:
        raise invalid(field, "must not be empty" if min_len == 1 else f"needs {min_len}+ chars")
    if len(value) > max_len:
        raise invalid(field, f"must be at most {max_len} characters")
    if choices is not None and value not in choices:
        raise invalid(field, f"must be one of {', '.join(choices)}")
    return value


def get_int(
    raw: Any, field: str, *, default: int, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Integers from JSON or from query strings ("10")."""
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        raise invalid(field, "must be an integer")
    if isinstance(raw, str):
        if not raw.strip().lstrip("-").isdigit() or len(raw) > 12:
            raise invalid(field, "must be an integer")
        raw = int(raw)
    if not isinstance(raw, int):
        raise invalid(field, "must be an integer")
    if minimum is not None and raw < minimum:
        raise invalid(field, f"must be >= {minimum}")
    if maximum is not None and raw > maximum:
        raise invalid(field, f"must be <= {maximum}")
    return raw


def paging(
    page: Any, limit: Any, *, default_limit: int = 10, max_limit: int = 100
) -> tuple[int, int]:
    return (
        get_int(page, "page", default=1, minimum=1, maximum=10_000_000),
        get_int(limit, "limit", default=default_limit, minimum=1, maximum=max_limit),
    )


def reject_unknown(body: dict[str, Any], allowed: set[str], prefix: str = "") -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise invalid(prefix + unknown[0], "is not a known field", allowed=sorted(allowed))
