"""Executions: start, read, list, stop, tail logs, and re-run (retry) workflows.

The rules the REST and GraphQL transports share: input validation, ownership (another
user's execution is 404, exactly like a missing one), which state allows which action
(stopping a finished execution is 409), the retry modes, and `wait`. Running belongs to
the engine; this service decides what may run and reads back what was committed, so a
response never shows a state the database does not hold. Must never import tornado.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from ..auth.identity import Principal
from ..engine.engine import Engine, pin_versions
from ..errors import Conflict, not_found
from ..models import EXECUTION_STATUSES, Execution, ExecutionNode, LogEntry, Page
from ..store.base import Store
from .definitions import normalize_definition
from .inputs import get_int, get_str, invalid, paging, reject_unknown, require_object
from .workflows import WorkflowService

MAX_WAIT_S = 120.0
RETRY_MODES = ("from_failed", "from_start", "from_node")
RETRY_VERSIONS = ("original", "latest")
MAX_LOG_PAGE = 1000


def parse_wait(raw: Any) -> float:
    """`?wait=SECONDS`: how long a request may wait for a terminal state (0..MAX_WAIT_S)."""
    if raw is None or raw == "":
        return 0.0
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        raise invalid("wait", "must be a number of seconds") from None
    if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_WAIT_S:
        raise invalid("wait", f"must be between 0 and {MAX_WAIT_S:g} seconds", max=MAX_WAIT_S)
    return seconds


def with_all_nodes(ex: Execution) -> Execution:
    """Per-node records for every node of the snapshot, in definition order: nodes that
    have not started yet have no row and are shown `pending`."""
    stored = {n.node_id: n for n in ex.nodes or ()}
    nodes: list[ExecutionNode] = []
    for spec in (ex.definition or {}).get("nodes", []):
        record = stored.pop(spec["id"], None)
        if record is None:
            ref = ex.node_versions.get(spec["id"], "")
            version = ref.partition("#")[0].rpartition("@")[2] or None
            record = ExecutionNode(ex.id, spec["id"], spec["type"], version)
        nodes.append(record)
    nodes.extend(stored.values())
    ex.nodes = nodes
    return ex


class ExecutionService:
    def __init__(self, store: Store, engine: Engine, workflows: WorkflowService):
        self.store = store
        self.engine = engine
        self.workflows = workflows

    # ------------------------------------------------------------ reads
    async def get(self, principal: Principal, execution_id: str) -> Execution:
        ex = await self.store.get_execution(principal.user_id, execution_id)
        if ex is None:
            raise not_found("Execution", execution_id)
        return with_all_nodes(ex)

    async def list(
        self,
        principal: Principal,
        *,
        page: Any = None,
        limit: Any = None,
        workflow_id: str | None = None,
        status: str | None = None,
    ) -> Page:
        page_n, limit_n = paging(page, limit)
        if status is not None and status not in EXECUTION_STATUSES:
            raise invalid("status", f"must be one of {', '.join(EXECUTION_STATUSES)}")
        if workflow_id is not None and not 0 < len(workflow_id) <= 200:
            raise invalid("workflow_id", "must be a workflow id")
        return await self.store.list_executions(
            principal.user_id, page=page_n, limit=limit_n, workflow_id=workflow_id, status=status
        )

    async def get_many(
        self, principal: Principal, execution_ids: list[str]
    ) -> dict[str, Execution]:
        """The principal's executions among `execution_ids`, by id, with every node
        record (as `get`); others' and missing ids are absent (GraphQL's batching)."""
        found = await self.store.get_executions(principal.user_id, execution_ids)
        return {ex.id: with_all_nodes(ex) for ex in found}

    async def recent_for_workflows(
        self, principal: Principal, workflow_ids: list[str], *, limit: Any = None
    ) -> dict[str, list[Execution]]:
        """The newest executions of each of the principal's workflows (summaries, newest
        first) in one read: `Workflow.executions(limit)` of a GraphQL list."""
        limit_n = get_int(limit, "limit", default=10, minimum=1, maximum=100)
        return await self.store.recent_executions(principal.user_id, workflow_ids, limit_n)

    async def list_for_workflow(
        self, principal: Principal, workflow_id: str, **filters: Any
    ) -> Page:
        await self.workflows.get(principal, workflow_id)  # 404 for a missing or foreign one
        return await self.list(principal, workflow_id=workflow_id, **filters)

    async def logs(
        self, principal: Principal, execution_id: str, *, after: Any = None, limit: Any = None
    ) -> tuple[list[LogEntry], dict[str, Any]]:
        """Log lines after the cursor `after` (a log id; 0 = from the start), oldest first."""
        after_n = get_int(after, "after", default=0, minimum=0, maximum=2**62)
        limit_n = get_int(limit, "limit", default=100, minimum=1, maximum=MAX_LOG_PAGE)
        found = await self.store.list_execution_logs(
            principal.user_id, execution_id, after=after_n, limit=limit_n + 1
        )
        if found is None:
            raise not_found("Execution", execution_id)
        entries, total = found
        has_more = len(entries) > limit_n
        entries = entries[:limit_n]
        return entries, {
            "after": after_n,
            "limit": limit_n,
            "next_after": entries[-1].id if entries else after_n,
            "has_more": has_more,
            "total": total,
        }

    # ------------------------------------------------------------ actions
    @staticmethod
    def _input(body: Any) -> dict[str, Any]:
        body = require_object(body)
        reject_unknown(body, {"input"})
        value = body.get("input", {})
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise invalid("input", "must be a JSON object")
        return value

    async def execute(
        self, principal: Principal, workflow_id: str, body: Any, *, wait: Any = None
    ) -> Execution:
        """Queue a run of the workflow's current revision; optionally wait for its end."""
        seconds = parse_wait(wait)
        payload = self._input(body)
        wf = await self.workflows.get(principal, workflow_id)
        run = await self.engine.start_execution(
            user=principal.user,
            workflow=wf,
            # Checked again at execute time: structurally here, against the node types
            # (which may have changed since the save) by the engine.
            definition=normalize_definition(wf.definition),
            workflow_version=wf.version,
            input=payload,
            via=principal.via,
        )
        return await self._answer(principal, run, seconds)

    async def _answer(self, principal: Principal, run: Any, seconds: float) -> Execution:
        """The new execution: as inserted (queued) when not waiting; as committed at its
        end when it ended within `seconds` (from memory: those are exactly the rows the
        engine committed); else as the database holds it now."""
        if seconds <= 0:
            ex = replace(run.execution)
            ex.nodes = list(run.reused_records)
            return with_all_nodes(ex)
        await self.engine.wait(run.id, seconds)
        if run.committed:
            return with_all_nodes(run.snapshot())
        return await self.get(principal, run.id)

    async def stop(self, principal: Principal, execution_id: str) -> Execution:
        """Stop a queued or running execution; a finished one is 409 CONFLICT."""
        ex = await self.store.get_execution(principal.user_id, execution_id, with_nodes=False)
        if ex is None:
            raise not_found("Execution", execution_id)
        if ex.terminal or not await self.engine.stop_execution(principal.user_id, execution_id):
            if not ex.terminal:  # it finished on its own while we were stopping it
                ex = (
                    await self.store.get_execution(
                        principal.user_id, execution_id, with_nodes=False
                    )
                    or ex
                )
            raise Conflict(
                f"execution already {ex.status}: only queued or running executions stop",
                {"status": ex.status},
            )
        return await self.get(principal, execution_id)

    async def retry(
        self, principal: Principal, execution_id: str, body: Any, *, wait: Any = None
    ) -> Execution:
        """Re-run a finished execution as a new one linked to it (`retry_of`)."""
        seconds = parse_wait(wait)
        body = require_object(body if body is not None else {})
        reject_unknown(body, {"mode", "node_id", "workflow_version"})
        mode = get_str(body, "mode", default="from_failed", choices=RETRY_MODES)
        version = get_str(body, "workflow_version", default="original", choices=RETRY_VERSIONS)
        node_id = get_str(body, "node_id", max_len=200)
        if mode == "from_node" and not node_id:
            raise invalid("node_id", "is required with mode from_node")
        if mode != "from_node" and node_id is not None:
            raise invalid("node_id", "is only allowed with mode from_node")
        source = await self.get(principal, execution_id)
        if not source.terminal:
            raise Conflict(
                f"execution is still {source.status}: stop it or wait for it to finish",
                {"status": source.status},
            )
        if mode == "from_failed" and source.status == "succeeded":
            raise Conflict(
                "execution succeeded: nothing failed to retry (use from_start or from_node)",
                {"status": source.status, "mode": mode},
            )
        wf = await self.workflows.get(principal, source.workflow_id)
        if version == "original":
            definition = pin_versions(source.definition or {}, source.node_versions)
            revision = source.workflow_version
        else:
            definition = wf.definition
            revision = wf.version
        definition = normalize_definition(definition)
        run = await self.engine.start_execution(
            user=principal.user,
            workflow=wf,
            definition=definition,
            workflow_version=revision,
            input=source.input,
            retry_of=source,
            retry_mode=mode,
            rerun_from=node_id,
            via=principal.via,
        )
        return await self._answer(principal, run, seconds)
