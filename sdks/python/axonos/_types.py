"""Typed records for what the API returns.

Each is a dataclass with the documented fields typed (times as aware `datetime`), built
by `from_api()` from the JSON object. Nothing the server sends is lost: the whole object
stays in `.raw`, and a field this SDK version does not know yet is still readable as an
attribute (`execution.some_new_field`) or by key (`execution["some_new_field"]`). So an
older SDK keeps working against a newer server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, ClassVar, TypeVar

__all__ = [
    "ApiKey",
    "AxonObject",
    "Event",
    "Execution",
    "ExecutionLog",
    "ExecutionNode",
    "ExecutionUpdate",
    "Health",
    "LogPage",
    "NodeType",
    "NodeUpdate",
    "Notification",
    "Port",
    "Token",
    "User",
    "Workflow",
    "WorkflowVersion",
]

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "stopped"})

T = TypeVar("T", bound="AxonObject")


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 (`2024-01-15T10:30:00.000Z`) to an aware datetime; anything else as is."""
    if not isinstance(value, str):
        return value
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _many(cls: type[AxonObject]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, list):
            return [cls.from_api(v) if isinstance(v, Mapping) else v for v in value]
        return value

    return convert


def _one(cls: type[AxonObject]) -> Callable[[Any], Any]:
    return lambda value: cls.from_api(value) if isinstance(value, Mapping) else value


@dataclass(kw_only=True)
class AxonObject:
    """Base of every returned record: typed fields plus the full JSON in `.raw`."""

    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    # field name -> converter from JSON; fields named *_at are parsed as times.
    _converters: ClassVar[dict[str, Callable[[Any], Any]]] = {}

    @classmethod
    def from_api(cls: type[T], data: Mapping[str, Any]) -> T:
        if not isinstance(data, Mapping):
            raise TypeError(f"{cls.__name__}.from_api expects a JSON object, got {data!r}")
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "raw" or f.name not in data:
                continue
            value = data[f.name]
            convert = cls._converters.get(f.name)
            if convert is not None:
                value = convert(value)
            elif f.name.endswith("_at") or f.name == "timestamp":
                value = parse_time(value)
            kwargs[f.name] = value
        return cls(**kwargs, raw=dict(data))

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: fields the server added later.
        if name.startswith("_"):
            raise AttributeError(name)
        raw = self.__dict__.get("raw", {})
        if name in raw:
            return raw[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object exactly as the server sent it."""
        return dict(self.raw)


@dataclass(kw_only=True)
class Health(AxonObject):
    status: str | None = None
    version: str | None = None


@dataclass(kw_only=True)
class User(AxonObject):
    id: str = ""
    email: str | None = None
    name: str | None = None
    role: str | None = None
    plan: str | None = None


@dataclass(kw_only=True)
class Token(AxonObject):
    """What login and refresh return; the client keeps using it for later calls."""

    token: str = ""
    token_type: str = "Bearer"
    expires_in: int | None = None
    refresh_token: str | None = None
    refresh_expires_in: int | None = None
    user: User | None = None

    _converters: ClassVar[dict[str, Callable[[Any], Any]]] = {"user": _one(User)}


@dataclass(kw_only=True)
class ApiKey(AxonObject):
    """An API key; `key` holds the secret only in the answer to `create()`."""

    id: str = ""
    name: str | None = None
    prefix: str | None = None
    scopes: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked: bool = False
    key: str | None = None


@dataclass(kw_only=True)
class Workflow(AxonObject):
    """A workflow; list results omit `definition` (None) and carry the summary only."""

    id: str = ""
    name: str | None = None
    description: str | None = None
    status: str | None = None
    version: int | None = None
    definition: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    node_count: int | None = None
    execution_count: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(kw_only=True)
class WorkflowVersion(AxonObject):
    """One numbered revision of a workflow (`definition` only when fetched singly)."""

    workflow_id: str = ""
    version: int = 0
    name: str | None = None
    description: str | None = None
    status: str | None = None
    definition: dict[str, Any] | None = None
    node_count: int | None = None
    restored_from: int | None = None
    created_at: datetime | None = None


@dataclass(kw_only=True)
class ExecutionNode(AxonObject):
    """One node's record within an execution (`reused`: outputs kept by a retry)."""

    node_id: str = ""
    type: str | None = None
    version: str | None = None
    status: str | None = None
    attempts: int | None = None
    reused: bool | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration: float | None = None
    outputs: Any = None
    error: Any = None


@dataclass(kw_only=True)
class Execution(AxonObject):
    """One run of a workflow; `nodes` (single reads only) holds each node's record."""

    id: str = ""
    workflow_id: str | None = None
    status: str | None = None
    progress: float | None = None
    current_node: str | None = None
    input: Any = None
    output: Any = None
    error: Any = None
    nodes: list[ExecutionNode] | None = None
    workflow_version: int | None = None
    node_versions: dict[str, str] | None = None
    retry_of: str | None = None
    retry_mode: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration: float | None = None

    _converters: ClassVar[dict[str, Callable[[Any], Any]]] = {"nodes": _many(ExecutionNode)}

    @property
    def is_terminal(self) -> bool:
        """True once the execution succeeded, failed or was stopped (it never changes again)."""
        return self.status in TERMINAL_STATUSES


@dataclass(kw_only=True)
class ExecutionLog(AxonObject):
    """A log line of an execution; `print()` in node code lands here too."""

    id: Any = None
    timestamp: datetime | None = None
    level: str | None = None
    node_id: str | None = None
    message: str | None = None


@dataclass(kw_only=True)
class LogPage(AxonObject):
    """A slice of an execution's log, oldest first; pass `next_after` as `after=` to
    read on from where this one ended."""

    logs: list[ExecutionLog] = field(default_factory=list)
    pagination: dict[str, Any] = field(default_factory=dict)

    _converters: ClassVar[dict[str, Callable[[Any], Any]]] = {"logs": _many(ExecutionLog)}

    @property
    def next_after(self) -> Any:
        """The cursor after the last line returned (unchanged when none was)."""
        if self.pagination.get("next_after") is not None:
            return self.pagination["next_after"]
        if self.logs and self.logs[-1].id is not None:
            return self.logs[-1].id
        return self.pagination.get("after")

    @property
    def has_more(self) -> bool:
        """True when more lines were already there than this page held."""
        if "has_more" in self.pagination:
            return bool(self.pagination["has_more"])
        limit = self.pagination.get("limit")
        return bool(limit) and len(self.logs) >= limit

    def __iter__(self) -> Iterator[ExecutionLog]:
        return iter(self.logs)

    def __len__(self) -> int:
        return len(self.logs)


@dataclass(kw_only=True)
class Port(AxonObject):
    name: str = ""
    type: str | None = None
    required: bool | None = None
    description: str | None = None


@dataclass(kw_only=True)
class NodeType(AxonObject):
    """A node type of the catalog (built-in or custom), at one version."""

    id: str = ""
    name: str | None = None
    description: str | None = None
    category: str | None = None
    version: str | None = None
    inputs: list[Port] = field(default_factory=list)
    outputs: list[Port] = field(default_factory=list)
    config_schema: dict[str, Any] | None = None
    builtin: bool | None = None
    code_hash: str | None = None
    created_at: datetime | None = None

    _converters: ClassVar[dict[str, Callable[[Any], Any]]] = {
        "inputs": _many(Port),
        "outputs": _many(Port),
    }


@dataclass(kw_only=True)
class Event(AxonObject):
    """A real-time event from the WebSocket: `type` and its `data` object."""

    type: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class ExecutionUpdate(AxonObject):
    """`execution_update`: where an execution stands (the seed's event shape)."""

    type: ClassVar[str] = "execution_update"
    execution_id: str = ""
    workflow_id: str | None = None
    status: str | None = None
    progress: float | None = None
    current_node: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(kw_only=True)
class NodeUpdate(AxonObject):
    """`node_update`: one node of an execution changed state."""

    type: ClassVar[str] = "node_update"
    execution_id: str = ""
    workflow_id: str | None = None
    node_id: str | None = None
    status: str | None = None
    attempts: int | None = None
    error: Any = None


@dataclass(kw_only=True)
class Notification(AxonObject):
    type: ClassVar[str] = "notification"
    level: str | None = None
    message: str | None = None
    timestamp: datetime | None = None
