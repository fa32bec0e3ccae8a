"""Live execution updates over the `/ws` WebSocket.

`ExecutionStream` is the protocol, free of I/O: the messages to send, how to read each
frame, and when the stream is over. The sync and async clients wrap it with the
`websockets` library's blocking and asyncio connections.

The server's protocol (axon_jupyter/api/ws.py):
    -> {"type": "auth", "token": ...}              <- {"type": "auth_ok", ...}
    -> {"type": "subscribe", "execution_id": ...}  <- {"type": "subscribed", ...}
    <- {"type": "execution_update" | "node_update" | ..., "data": {...}}
    <- {"type": "error", "data": {"code", "message", "details"}}
    A Jupyter server token is no Axon credential: it rides on the upgrade request
    (`Authorization: token ...` with a same-origin `Origin`), Jupyter authenticates the
    socket, and the server says `auth_ok` at once.
    close 4401 bad/expired credential, 4408 no auth in time, 1013 slow consumer, 1001 shutdown.

Events can be missed (an execution that finished before the subscription, a slow
consumer cut off), so the stream also reads the execution over REST right after it
subscribes and whenever the socket stays silent, and ends on the first terminal state
seen either way: a stream always ends.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

from ._base_client import Credentials
from ._exceptions import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    WaitTimeoutError,
    error_class,
)
from ._types import Execution, ExecutionUpdate, NodeUpdate

# How far along each status is: a stream never reports a step back.
_RANK = {"queued": 0, "running": 1}

# Ask the server directly after this long without a frame.
SILENCE_POLL_INTERVAL = 5.0

CLOSE_REASONS = {
    4401: "the server rejected the credential (bad, expired or revoked)",
    4408: "no authentication within the server's time limit",
    4400: "the server could not read the first message",
    1013: "the connection fell too far behind and was cut off",
    1001: "the server is shutting down",
}


def connect_options(credentials: Credentials, base_url: str) -> tuple[str | None, dict[str, Any]]:
    """The `auth` message's credential and the extra arguments of the upgrade."""
    if credentials.is_jupyter_token:
        parsed = urllib.parse.urlsplit(base_url)
        return None, {
            "additional_headers": {"Authorization": f"token {credentials.token}"},
            "origin": f"{parsed.scheme}://{parsed.netloc}",
        }
    return credentials.secret(), {}


def error_from_message(data: Any) -> APIError:
    """An `{"type": "error", "data": {code, message, details}}` frame as an exception."""
    data = data if isinstance(data, dict) else {}
    code = data.get("code") if isinstance(data.get("code"), str) else "INTERNAL_ERROR"
    status = {
        "VALIDATION_ERROR": 400,
        "UNAUTHORIZED": 401,
        "FORBIDDEN": 403,
        "NOT_FOUND": 404,
        "RATE_LIMITED": 429,
    }.get(code, 500)
    details = data.get("details") if isinstance(data.get("details"), dict) else {}
    return error_class(status, code)(
        str(data.get("message") or code), code=code, status=status, details=details
    )


def closed_error(code: int | None, reason: str | None) -> APIConnectionError | APIError:
    """The exception for a socket the server closed before the stream was over."""
    explanation = CLOSE_REASONS.get(code or 0, "the connection closed")
    text = f"WebSocket closed ({code}): {explanation}" + (f": {reason}" if reason else "")
    if code in (4401, 4408):
        return AuthenticationError(
            text, code="UNAUTHORIZED", status=401, details={"close_code": code, "reason": reason}
        )
    return APIConnectionError(text)


class ExecutionStream:
    """Protocol state of one `executions.stream()`: handshake, filtering, termination.

    A driver sends `start()`, then loops until `done`: receive a frame with
    `recv_timeout()` and `feed()` it (or call `silence()` when none came), send what
    `take_outbox()` returns, and read the execution over REST when `take_poll()` asks.
    """

    def __init__(self, execution_id: str, timeout: float | None = None) -> None:
        self.execution_id = execution_id
        self.timeout = timeout
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.authenticated = False
        self.subscribed = False
        self.done = False
        self.last: ExecutionUpdate | None = None
        self._last_key: tuple[Any, ...] | None = None
        self._outbox: list[str] = []
        self._poll = False

    def start(self, secret: str | None) -> str | None:
        """The first message: the credential (None when the upgrade carried it)."""
        if secret is None:
            return None
        return json.dumps({"type": "auth", "token": secret})

    def recv_timeout(self) -> float:
        if self.deadline is None:
            return SILENCE_POLL_INTERVAL
        return max(0.0, min(SILENCE_POLL_INTERVAL, self.deadline - time.monotonic()))

    def feed(self, text: str | bytes) -> list[ExecutionUpdate | NodeUpdate]:
        """Read one frame; return the updates to hand to the caller."""
        try:
            message = json.loads(text)
        except ValueError:
            return []
        if not isinstance(message, dict):
            return []
        kind, data = message.get("type"), message.get("data")
        if kind == "auth_ok" and not self.authenticated:
            self.authenticated = True
            self._outbox.append(
                json.dumps({"type": "subscribe", "execution_id": self.execution_id})
            )
        elif kind == "subscribed" and not self.subscribed:
            # From here on no event is missed; what happened before, REST tells.
            self.subscribed = True
            self._poll = True
        elif kind == "error":
            raise error_from_message(data)
        elif isinstance(data, dict) and data.get("execution_id") == self.execution_id:
            if kind == "execution_update":
                return self._update(ExecutionUpdate.from_api(data))
            if kind == "node_update" and not self.done:
                return [NodeUpdate.from_api(data)]
        self._check_deadline()
        return []

    def silence(self) -> None:
        """No frame came within `recv_timeout()`: ask REST, unless time is up."""
        self._check_deadline()
        if self.subscribed:
            self._poll = True

    def take_outbox(self) -> list[str]:
        out, self._outbox = self._outbox, []
        return out

    def take_poll(self) -> bool:
        poll, self._poll = self._poll, False
        return poll and not self.done

    def snapshot(self, execution: Execution) -> list[ExecutionUpdate | NodeUpdate]:
        """The execution as read over REST, as an update if it tells something new."""
        data = {
            "execution_id": execution.id,
            "workflow_id": execution.workflow_id,
            "status": execution.status,
            "progress": execution.progress,
            "current_node": execution.current_node,
        }
        return self._update(ExecutionUpdate.from_api(data))

    def _update(self, update: ExecutionUpdate) -> list[ExecutionUpdate | NodeUpdate]:
        if self.done or self._older(update):
            return []
        key = (update.status, update.progress, update.current_node)
        self.done = update.is_terminal
        if key == self._last_key and not self.done:
            return []
        self._last_key = key
        self.last = update
        return [update]

    def _older(self, update: ExecutionUpdate) -> bool:
        """An event sent before the REST read that was already yielded: drop it, so the
        caller never sees an execution go back (running -> queued, 0.6 -> 0.3)."""
        last = self.last
        if last is None or update.is_terminal:
            return False
        rank, last_rank = _RANK.get(update.status, 0), _RANK.get(last.status, 0)
        if rank != last_rank:
            return rank < last_rank
        return (update.progress or 0.0) < (last.progress or 0.0)

    def _check_deadline(self) -> None:
        if not self.done and self.deadline is not None and time.monotonic() >= self.deadline:
            status = self.last.status if self.last else "unknown"
            raise WaitTimeoutError(
                f"execution {self.execution_id} still {status} after {self.timeout} s",
                self.last,
            )
