"""Errors as notebook users should see them: one readable message, no traceback.

`AxonNotebookError` carries IPython's `_render_traceback_` hook, so raising it from a
cell (e.g. `wf.save()` with an invalid definition) prints its message instead of a
stack; `describe()` turns any SDK error into the same kind of sentence, naming the
node and the field when the server's error details do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class AxonNotebookError(Exception):
    """A user-facing failure of a magic, a builder or a widget."""

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[31m{type(self).__name__}\x1b[0m: {self}"]


class WorkflowInvalid(AxonNotebookError, ValueError):
    """The server (or a local check) refused a workflow definition."""

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = dict(details or {})


def node_field_sentence(details: Mapping[str, Any], definition: Mapping[str, Any] | None) -> str:
    """ "node 'fetch' (node_http_request), field config.url: is required"."""
    node = details.get("node")
    field = details.get("field")
    issue = details.get("issue")
    parts = []
    if node:
        kind = ""
        for n in (definition or {}).get("nodes") or []:
            if isinstance(n, Mapping) and n.get("id") == node:
                kind = f" ({n.get('type')})"
        parts.append(f"node {node!r}{kind}")
    if field:
        parts.append(f"field {field}")
    text = ", ".join(parts)
    if issue:
        text = f"{text}: {issue}" if text else str(issue)
    return text


def describe(exc: BaseException, definition: Mapping[str, Any] | None = None) -> str:
    """A one-line account of an SDK or notebook error."""
    from axonos import APIConnectionError, APIError

    if isinstance(exc, APIError):
        details = exc.details if isinstance(exc.details, Mapping) else {}
        if details.get("node") or details.get("field"):
            return node_field_sentence(details, definition)
        return f"{exc.message} [{exc.code}]"
    if isinstance(exc, APIConnectionError):
        return f"cannot reach the Axon server: {exc}"
    return str(exc) or type(exc).__name__


def invalid_workflow(name: str, exc: Any, definition: Mapping[str, Any] | None) -> WorkflowInvalid:
    details = exc.details if isinstance(getattr(exc, "details", None), Mapping) else {}
    return WorkflowInvalid(f"workflow {name!r} is invalid: {describe(exc, definition)}", details)
