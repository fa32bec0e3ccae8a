"""What every built-in node shares: the settings they are built with, small coercions.

Built-in node types are built once per runtime from `NodeSettings` (the traits that
concern nodes), so a run function needs nothing but its inputs, config and context.
Imports nothing from engine/ or api/.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

from ..http import HttpPolicy
from ..types import NodeError

SCHEMA = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class NodeSettings:
    """The node-related traits of AxonApp, resolved."""

    http: HttpPolicy = field(default_factory=HttpPolicy)
    notebook_root: str = field(default_factory=os.getcwd)
    notebook_kernel: str = "python3"
    notebook_startup_timeout: float = 60.0


def object_schema(
    properties: dict[str, Any], *, required: tuple[str, ...] = (), closed: bool = True
) -> dict[str, Any]:
    """A config schema; closed by default, as unknown keys are typos that should fail loudly."""
    schema: dict[str, Any] = {
        "$schema": SCHEMA,
        "type": "object",
        "properties": properties,
        "additionalProperties": not closed,
    }
    if required:
        schema["required"] = list(required)
    return schema


def is_template(value: Any) -> bool:
    """A config string the engine will render: it cannot be type-checked before that."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def as_number(
    value: Any, field_name: str, *, default: float, minimum: float, maximum: float
) -> float:
    """A number from config, which may be a rendered template (a string) by now."""
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError as exc:
            raise NodeError(f"config {field_name} must be a number, got {value!r}") from exc
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise NodeError(f"config {field_name} must be a number, got {value!r}")
    if not minimum <= value <= maximum:
        raise NodeError(f"config {field_name} must be between {minimum:g} and {maximum:g}")
    return float(value)


def as_bool(value: Any, field_name: str, *, default: bool) -> bool:
    """A boolean from config; rendered templates arrive as strings."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise NodeError(f"config {field_name} must be true or false, got {value!r}")


_FALSE_WORDS = frozenset({"", "false", "0", "none", "null", "no"})


def truthy(value: Any) -> bool:
    """Truthiness of a rendered expression: "", false, 0, none, null, no are false."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _FALSE_WORDS:
            return False
        try:
            return float(text) != 0  # "0.0" reads as false like "0"
        except ValueError:
            return True
    return bool(value)
