"""The persistence contract every store implements.

Contract:
- Every coroutine that returns normally has committed its write: a caller may tell a
  client "done" right after the await. Nothing is acknowledged from a buffer.
- Reads never see a half-applied change (each write is one transaction).
- Object lookups take the owner's user id: a row owned by someone else is
  indistinguishable from a missing one (None / False), so tenancy cannot be forgotten
  by a caller.
- A full or locked database raises `errors.Unavailable` (503), never a bare sqlite error;
  a uniqueness clash raises `errors.Conflict`.
Must never import tornado or anything from api/.
"""

from __future__ import annotations

import abc
from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..models import ApiKey, Page, User, Workflow, WorkflowRevision
from ..nodes.types import NodeType

if TYPE_CHECKING:  # the batch records are plain data defined next to their SQL
    from ..models import Execution, ExecutionNode, LogEntry
    from .executions import ExecutionBatch, ReapedExecution


class Store(abc.ABC):
    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema to the newest version."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    # users
    @abc.abstractmethod
    async def create_user(self, user: User) -> None: ...

    @abc.abstractmethod
    async def get_user(self, user_id: str) -> User | None: ...

    @abc.abstractmethod
    async def get_user_by_email(self, email: str) -> User | None: ...

    @abc.abstractmethod
    async def get_user_for_token(self, user_id: str, *revoked_keys: str) -> User | None:
        """The token's user, or None when the user is gone or any of `revoked_keys` (the
        token's jti, its family's marker) is revoked. One read: this runs per request."""

    @abc.abstractmethod
    async def update_user(self, user: User) -> None: ...

    # API keys
    @abc.abstractmethod
    async def create_api_key(self, key: ApiKey) -> None: ...

    @abc.abstractmethod
    async def get_api_key_by_hash(self, key_hash: str) -> tuple[ApiKey, User] | None: ...

    @abc.abstractmethod
    async def list_api_keys(self, user_id: str) -> list[ApiKey]: ...

    @abc.abstractmethod
    async def revoke_api_key(self, user_id: str, key_id: str, at: datetime) -> bool: ...

    # token state
    @abc.abstractmethod
    async def add_refresh_token(
        self, jti: str, family: str, user_id: str, expires_at: datetime
    ) -> None: ...

    @abc.abstractmethod
    async def use_refresh_token(self, jti: str, at: datetime) -> tuple[str, str, bool] | None:
        """Mark `jti` used; return (family, user_id, was_fresh). Reuse returns was_fresh=False."""

    @abc.abstractmethod
    async def revoke_family(self, family: str, at: datetime) -> None: ...

    @abc.abstractmethod
    async def revoke_jti(self, jti: str, expires_at: datetime) -> None: ...

    # workflows
    @abc.abstractmethod
    async def create_workflow(self, wf: Workflow) -> None:
        """Insert the workflow and its revision `wf.version` in one transaction."""

    @abc.abstractmethod
    async def get_workflow(self, user_id: str, workflow_id: str) -> Workflow | None: ...

    @abc.abstractmethod
    async def list_workflows(
        self, user_id: str, *, page: int, limit: int, status: str | None, search: str | None
    ) -> Page: ...

    @abc.abstractmethod
    async def get_workflows(self, user_id: str, workflow_ids: list[str]) -> list[Workflow]:
        """Several of the user's workflows with their definitions, in one read (GraphQL
        lists batch through this); ids not found or not owned are simply absent."""

    @abc.abstractmethod
    async def execution_status_counts(self) -> dict[str, int]:
        """Executions per status across the instance (system health); one cheap read."""

    @abc.abstractmethod
    async def update_workflow(
        self, wf: Workflow, expected_version: int, restored_from: int | None = None
    ) -> bool:
        """Compare-and-swap on `version`: write `wf` (whose version is expected+1) and its
        revision only when the stored version is still `expected_version`."""

    @abc.abstractmethod
    async def delete_workflow(self, user_id: str, workflow_id: str) -> bool: ...

    @abc.abstractmethod
    async def list_revisions(self, user_id: str, workflow_id: str) -> list[WorkflowRevision]: ...

    @abc.abstractmethod
    async def get_revision(
        self, user_id: str, workflow_id: str, version: int
    ) -> WorkflowRevision | None: ...

    # custom node types (store/nodes.py; built-ins live in code)
    @abc.abstractmethod
    async def create_node_type(self, nt: NodeType) -> None:
        """Insert one immutable (owner, id, version); an existing one raises Conflict."""

    @abc.abstractmethod
    async def list_node_types(
        self, user_id: str, ids: Collection[str] | None = None
    ) -> list[NodeType]:
        """The user's custom node types (every version), optionally only these ids."""

    # executions (the engine writes in batches; see store/executions.py)
    @abc.abstractmethod
    async def create_execution(
        self,
        execution: Execution,
        reused: list[ExecutionNode] | tuple = (),
        *,
        encoded: dict[str, str] | None = None,
    ) -> None:
        """Insert a queued execution (and any node records a retry reuses) and increment
        its workflow's execution_count, in one transaction. `encoded`: the JSON of
        `definition` / `node_versions` when the caller already has it."""

    @abc.abstractmethod
    async def write_execution_batch(self, batch: ExecutionBatch) -> set[str]:
        """Commit one engine flush in one transaction; only executions the engine still
        holds are written. Returns those."""

    @abc.abstractmethod
    async def heartbeat(self, engine_id: str, lease_expires_at: float) -> set[str]:
        """Extend the engine's leases; return the live executions it still holds."""

    @abc.abstractmethod
    async def live_engine_ids(self) -> list[str]: ...

    @abc.abstractmethod
    async def reap_executions(
        self,
        engine_id: str,
        *,
        now: float,
        lease_expires_at: float,
        dead_engines: list[str] | tuple = (),
        error: dict[str, Any],
    ) -> list[ReapedExecution]:
        """Fail, or re-queue once where the workflow opts in, live executions whose
        engine is gone (lease expired, never heartbeated, or known dead)."""

    @abc.abstractmethod
    async def release_executions(
        self, engine_id: str, *, now: float, error: dict[str, Any]
    ) -> list[ReapedExecution]:
        """At shutdown: fail the engine's live executions, or leave opted-in ones queued
        with no holder for the next engine to re-queue."""

    @abc.abstractmethod
    async def stop_execution(
        self, user_id: str, execution_id: str, *, now: float, error: dict[str, Any]
    ) -> bool:
        """Stop a live execution held by no engine of this process."""

    @abc.abstractmethod
    async def get_execution(
        self, user_id: str, execution_id: str, *, with_nodes: bool = True
    ) -> Execution | None: ...

    @abc.abstractmethod
    async def get_executions(self, user_id: str, execution_ids: list[str]) -> list[Execution]:
        """Several of the user's executions with definitions and node records, in two
        reads (GraphQL lists batch through this); others' and missing ids are absent."""

    @abc.abstractmethod
    async def recent_executions(
        self, user_id: str, workflow_ids: list[str], limit: int
    ) -> dict[str, list[Execution]]:
        """The newest `limit` executions (summaries) of each of the user's workflows,
        newest first, in one read; workflows without executions are absent."""

    @abc.abstractmethod
    async def list_executions(
        self,
        user_id: str,
        *,
        page: int,
        limit: int,
        workflow_id: str | None = None,
        status: str | None = None,
    ) -> Page: ...

    @abc.abstractmethod
    async def list_execution_logs(
        self, user_id: str, execution_id: str, *, after: int, limit: int
    ) -> tuple[list[LogEntry], int] | None:
        """Log lines after the cursor and the total count; None for a missing execution."""
