"""What a node type is, and what a running node may ask of the engine.

This module is the contract between the catalog (nodes/) and the engine (engine/):
the catalog resolves `type@version` to a `NodeType`; the engine runs it, either inline
in the event loop (`execution == "inline"`, an async `run`) or in a worker process
(`execution == "process"`, Python `code` defining `run(inputs, config)`).
Imports nothing from engine/ or api/.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from ..models import iso


@dataclass(frozen=True, slots=True)
class Port:
    name: str
    type: str = "any"
    required: bool = False
    description: str = ""

    def to_api(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "description": self.description,
        }


class NodeError(Exception):
    """A failure a node reports on purpose (refused URL, bad config at run time, a failed
    notebook cell): its message is meant for the user as is, no traceback needed."""


class NodeContext(Protocol):
    """What node code may use while it runs (implemented by the engine)."""

    execution_id: str
    workflow_id: str
    user_id: str
    node_id: str
    attempt: int
    input: dict[str, Any]  # the execution's input
    nodes: dict[str, dict[str, Any]]  # outputs of finished upstream nodes, by node id

    def log(self, level: str, message: str) -> None: ...

    async def run_subworkflow(self, workflow_id: str, input: dict[str, Any]) -> dict[str, Any]:
        """Run another workflow of the same user to completion; return its output."""
        ...


InlineRun = Callable[[dict[str, Any], dict[str, Any], NodeContext], Awaitable[dict[str, Any]]]


@dataclass(slots=True)
class NodeType:
    id: str
    name: str
    description: str
    category: str
    version: str
    inputs: list[Port]
    outputs: list[Port]
    config_schema: dict[str, Any]
    builtin: bool
    execution: Literal["inline", "process"] = "inline"
    run: InlineRun | None = None  # inline implementation (built-ins)
    code: str | None = None  # process implementation: source defining run(inputs, config)
    code_hash: str | None = None
    owner_id: str | None = None  # None for built-ins, visible to everyone
    created_at: datetime | None = None
    # "raw_config": config keys the engine must pass through without template rendering
    # (e.g. node_python's "code"); "check_config": callable(config) -> [(path, issue)], the
    # catalog's extra definition-time checks beyond the JSON Schema.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """`type@version`, plus the code hash for custom code: what an execution records."""
        base = f"{self.id}@{self.version}"
        return f"{base}#{self.code_hash[:12]}" if self.code_hash else base

    def port(self, direction: Literal["inputs", "outputs"], name: str) -> Port | None:
        return next((p for p in getattr(self, direction) if p.name == name), None)

    def to_api(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "version": self.version,
            "inputs": [p.to_api() for p in self.inputs],
            "outputs": [p.to_api() for p in self.outputs],
            "config_schema": self.config_schema,
            "builtin": self.builtin,
        }
        if not self.builtin:
            out["code_hash"] = self.code_hash
            out["created_at"] = iso(self.created_at)
        return out
