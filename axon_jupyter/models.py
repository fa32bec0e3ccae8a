"""Plain records shared by every layer.

They carry data only; rules live in services/ and persistence in store/. The
`to_api()` methods give the JSON shape the seed reference fixes, so REST, GraphQL and
the SDKs agree on one representation.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

WORKFLOW_STATUSES = ("active", "inactive", "draft")
EXECUTION_STATUSES = ("queued", "running", "succeeded", "failed", "stopped")
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "stopped"})
ROLES = ("admin", "member")
PLANS = ("standard", "pro", "enterprise")


def new_id(prefix: str) -> str:
    """Random, URL-safe, prefixed ids (`wf_...`): unguessable, so ids leak nothing."""
    return f"{prefix}_{secrets.token_hex(8)}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime | None) -> str | None:
    """RFC 3339 UTC with a `Z`, millisecond precision, as the seed shows."""
    return None if ts is None else _iso(ts)


@lru_cache(maxsize=65536)
def _iso(ts: datetime) -> str:
    # Cached: list responses format the same few timestamps on every request, and
    # formatting was the largest cost of GET /workflows.
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_epoch(value: float | None) -> datetime | None:
    return None if value is None else _from_epoch(value)


@lru_cache(maxsize=65536)
def _from_epoch(value: float) -> datetime:
    # Cached like _iso: rows read again and again share one (immutable) datetime, whose
    # hash CPython keeps, so formatting it again is a cache hit too.
    return datetime.fromtimestamp(value, UTC)


@dataclass(slots=True)
class User:
    id: str
    email: str
    name: str
    password_hash: str | None
    role: str = "member"
    plan: str = "standard"
    rate_limit: int | None = None  # per-user override of the plan's hourly budget
    created_at: datetime = field(default_factory=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "plan": self.plan,
        }


@dataclass(slots=True)
class ApiKey:
    id: str
    user_id: str
    name: str
    prefix: str
    key_hash: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "scopes": list(self.scopes),
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "last_used_at": iso(self.last_used_at),
            "revoked": self.revoked_at is not None,
        }


@dataclass(slots=True)
class Workflow:
    id: str
    user_id: str
    name: str
    description: str
    status: str
    definition: dict[str, Any] | None  # None in list summaries, which never load it
    version: int
    created_at: datetime
    updated_at: datetime
    node_count: int = 0
    execution_count: int = 0
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        return f'"{self.id}-v{self.version}"'

    def summary(self) -> dict[str, Any]:
        """The list shape of the seed's `GET /workflows`."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "status": self.status,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "node_count": self.node_count,
            "execution_count": self.execution_count,
            "version": self.version,
        }

    def to_api(self) -> dict[str, Any]:
        out = self.summary()
        out["definition"] = self.definition
        out["settings"] = self.settings
        return out


@dataclass(slots=True)
class WorkflowRevision:
    workflow_id: str
    version: int
    name: str
    description: str
    status: str
    definition: dict[str, Any]
    created_at: datetime
    restored_from: int | None = None

    def to_api(self, with_definition: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "workflow_id": self.workflow_id,
            "version": self.version,
            "name": self.name,
            "description": self.description,
            "status": self.status,
            "created_at": iso(self.created_at),
            "restored_from": self.restored_from,
            "node_count": len(self.definition.get("nodes", [])),
        }
        if with_definition:
            out["definition"] = self.definition
        return out


@dataclass(slots=True)
class Page:
    """One page of a list and the numbers the seed's `pagination` object shows."""

    items: list[Any]
    page: int
    limit: int
    total: int

    @property
    def total_pages(self) -> int:
        return (self.total + self.limit - 1) // self.limit if self.total else 0

    def pagination(self) -> dict[str, int]:
        return {
            "page": self.page,
            "limit": self.limit,
            "total": self.total,
            "total_pages": self.total_pages,
        }


NODE_STATUSES = ("pending", "running", "succeeded", "failed", "skipped", "stopped")


def _duration(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds(), 6)


@dataclass(slots=True)
class ExecutionNode:
    """One node's record within one execution (status, attempts, times, outputs, error)."""

    execution_id: str
    node_id: str
    node_type: str
    node_version: str | None = None
    status: str = "pending"
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    outputs: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "type": self.node_type,
            "version": self.node_version,
            "status": self.status,
            "attempts": self.attempts,
            # A succeeded node that never ran here carries outputs reused by a retry.
            "reused": self.status == "succeeded" and self.attempts == 0,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration": _duration(self.started_at, self.finished_at),
            "outputs": self.outputs,
            "error": self.error,
        }


@dataclass(slots=True)
class Execution:
    """One run of a workflow: the frozen definition it ran and where it got to."""

    id: str
    workflow_id: str
    user_id: str
    workflow_version: int
    status: str = "queued"
    progress: float = 0.0
    current_node: str | None = None
    input: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    node_versions: dict[str, str] = field(default_factory=dict)
    definition: dict[str, Any] | None = None  # None in list summaries, which never load it
    retry_of: str | None = None
    retry_mode: str | None = None
    requeue_count: int = 0
    engine_id: str | None = None
    lease_expires_at: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    nodes: list[ExecutionNode] | None = None  # None unless loaded with the execution

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def summary(self) -> dict[str, Any]:
        """The list shape: everything but the per-node records and the definition."""
        return {
            "id": self.id,
            "workflow_id": self.workflow_id,
            "workflow_version": self.workflow_version,
            "status": self.status,
            "progress": self.progress,
            "current_node": self.current_node,
            "input": self.input,
            "output": self.output,
            "error": self.error,
            "node_versions": self.node_versions,
            "retry_of": self.retry_of,
            "retry_mode": self.retry_mode,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration": _duration(self.started_at, self.finished_at),
        }

    def to_api(self) -> dict[str, Any]:
        out = self.summary()
        out["nodes"] = [n.to_api() for n in self.nodes or ()]
        return out


@dataclass(slots=True)
class LogEntry:
    id: int
    execution_id: str
    timestamp: datetime
    level: str
    node_id: str | None
    message: str

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "timestamp": iso(self.timestamp),
            "level": self.level,
            "node_id": self.node_id,
            "message": self.message,
        }
