"""The engine: admission (global bound, FIFO queue), leases, the reaper, sub-workflows.

    engine = Engine(store, events, EngineSettings(...), catalog=lambda: runtime.catalog)
    await engine.start()                      # reaps stale executions, starts timers
    run = await engine.start_execution(user=..., workflow=..., definition=..., ...)
    await engine.wait(run.id, timeout)        # terminal and committed, or timed out
    await engine.stop_execution(user_id, execution_id)
    await engine.stop()                       # releases what it held

Durability. Every execution this engine owns carries its `engine_id` and a lease that
a timer extends (`lease_s / 3`). The reaper (at start-up and every `lease_s`) fails,
or re-queues once where the workflow's settings say `requeue_on_interrupt`, every live
execution whose holder is gone: lease expired, never heartbeated, or its engine is a
process on this host that no longer exists (so a restart after kill -9 recovers at
once instead of waiting out the lease). It never touches a live lease of another
engine: a server and an embedded kernel share one database safely. A heartbeat that
finds an execution no longer held (stopped by another process, reaped) abandons the
local run without writing.

Node types come from the catalog (`check_definition`, `resolve`) or from an explicit
`resolver(user_id, type_id, version)`, which tests and benchmarks use to run types
they build themselves. Must never import tornado or anything from api/.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..auth.identity import Principal
from ..errors import AxonError, Forbidden, ValidationError
from ..models import Execution, ExecutionNode, User, Workflow, from_epoch, new_id
from ..nodes.custom import may_run_code
from ..nodes.types import NodeError, NodeType
from ..store.base import Store
from ..store.executions import ExecutionBatch
from .events import EXECUTION_UPDATE, NOTIFICATION, Event, EventBus
from .executor import ExecutionRun
from .journal import Journal
from .plan import Plan, build_plan, reusable_nodes
from .runners import InlineRunner, ProcessRunner, WorkerSettings

log = logging.getLogger("axon.engine")

Resolver = Callable[[str, str, str | None], Awaitable[NodeType]]
CODE_POLICIES = ("owner", "all", "off")
PLAN_CACHE_SIZE = 64
HOST = socket.gethostname()
INTERRUPTED = {
    "code": "EXECUTION_INTERRUPTED",
    "message": "the engine running this execution stopped (crash or restart) before it finished",
}
SHUTDOWN = {
    "code": "EXECUTION_INTERRUPTED",
    "message": "the server shut down before this execution finished",
}


@dataclass(frozen=True)
class EngineSettings:
    max_executions: int = 16  # executions running at once; more wait `queued`, FIFO
    max_parallel_nodes: int = 32  # nodes running at once within one execution
    max_running_nodes: int = 256  # nodes running at once across all executions
    lease_s: float = 30.0  # lease length; heartbeat every lease_s / 3
    flush_interval: float = 0.05  # longest a non-urgent change waits for its commit
    max_subworkflow_depth: int = 8
    code_nodes: str = "owner"  # who may run Python code nodes: owner | all | off
    workers: WorkerSettings = field(default_factory=WorkerSettings)


def settings_from_config(config: Any) -> EngineSettings:
    """EngineSettings from the resolved AxonConfig (AxonApp's traits)."""
    return EngineSettings(
        max_executions=config.max_concurrent_executions,
        max_parallel_nodes=config.max_parallel_nodes,
        max_running_nodes=config.max_running_nodes,
        lease_s=config.execution_lease_seconds,
        code_nodes=config.code_nodes,
        workers=WorkerSettings(
            max_workers=config.worker_processes,
            warm=config.worker_warm,
            cpu_seconds=config.worker_cpu_seconds,
            memory_mb=config.worker_memory_mb,
            user=config.worker_user,
        ),
    )


def make_engine_id() -> str:
    return f"{HOST}:{os.getpid()}:{secrets.token_hex(4)}"


def engine_is_dead(engine_id: str) -> bool:
    """True only when `engine_id` names a process of this host that no longer exists."""
    parts = engine_id.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != HOST or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    try:  # a killed but unreaped process is a zombie: it runs nothing any more
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def pin_versions(definition: dict[str, Any], node_versions: dict[str, str]) -> dict[str, Any]:
    """The definition with each node's version fixed to the one an execution recorded
    (`type@version#hash`), so a re-run resolves exactly what ran."""
    nodes = []
    for node in definition.get("nodes", []):
        ref = node_versions.get(node["id"])
        if ref and "version" not in node and "@" in ref:
            type_id, _, version = ref.partition("#")[0].rpartition("@")
            if type_id == node["type"]:
                node = {**node, "version": version}
        nodes.append(node)
    return {**definition, "nodes": nodes}


class Engine:
    def __init__(
        self,
        store: Store,
        events: EventBus,
        settings: EngineSettings | None = None,
        *,
        catalog: Callable[[], Any] | None = None,
        resolver: Resolver | None = None,
    ):
        self.store = store
        self.events = events
        self.settings = settings or EngineSettings()
        if self.settings.code_nodes not in CODE_POLICIES:
            raise ValueError(f"code_nodes must be one of {', '.join(CODE_POLICIES)}")
        self.catalog = catalog
        self.resolver = resolver
        self.engine_id = make_engine_id()
        self.journal = Journal(
            store,
            events,
            self.engine_id,
            lease_s=self.settings.lease_s,
            interval=self.settings.flush_interval,
            on_lost=self._on_lost,
        )
        # The global node bound: a counter the DAG loops check before launching a node
        # (cheaper than a semaphore per node); runs that found it full wait in `starved`.
        self.nodes_running = 0
        self.starved: set[ExecutionRun] = set()
        self.inline = InlineRunner()
        self.process = ProcessRunner(self.settings.workers)
        self.runs: dict[str, ExecutionRun] = {}
        self._plans: OrderedDict[tuple, tuple[Plan, dict[str, str]]] = OrderedDict()
        self._queue: deque[ExecutionRun] = deque()
        self._active: set[ExecutionRun] = set()
        self._timers: list[asyncio.Task] = []
        self._running = False

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._running:
            return
        self._running = True
        await self.process.start()
        try:
            await self.reap()
        except AxonError as exc:
            log.warning("engine: start-up reaping failed: %s", exc.message)
        self._timers = [
            asyncio.ensure_future(self._every(self.settings.lease_s / 3, self.heartbeat)),
            asyncio.ensure_future(self._every(self.settings.lease_s, self.reap)),
        ]
        log.info("engine %s started", self.engine_id)

    async def stop(self) -> None:
        """Abandon what runs, commit what was recorded, and release what this engine
        held: failed as interrupted, or back to `queued` where the workflow opts in."""
        if not self._running:
            return
        self._running = False
        for timer in self._timers:
            timer.cancel()
        await asyncio.gather(*self._timers, return_exceptions=True)
        runs = list(self.runs.values())
        for run in runs:
            run.abandon()
        self._queue.clear()
        waiting = [run.task for run in runs if run.task is not None]
        if waiting:
            await asyncio.wait(waiting, timeout=5)
        try:
            await self.journal.drain()
            await self.store.release_executions(self.engine_id, now=time.time(), error=SHUTDOWN)
        except AxonError as exc:
            log.warning("engine: could not release executions at shutdown: %s", exc.message)
        await self.process.close()

    async def _every(self, interval: float, job: Callable[[], Awaitable[Any]]) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:  # a timer must survive a locked database
                log.exception("engine: %s failed", getattr(job, "__name__", "job"))

    def release_node(self) -> None:
        self.nodes_running -= 1
        if self.starved:
            waiting, self.starved = self.starved, set()
            for run in waiting:
                run.wake()

    def runner_for(self, node_type: NodeType) -> Any:
        return self.process if node_type.execution == "process" else self.inline

    # ------------------------------------------------------------ leases
    async def heartbeat(self) -> None:
        # Only runs already inserted when the heartbeat starts can be judged by it: one
        # inserted meanwhile is simply not in its answer yet.
        known = set(self.runs)
        held = await self.store.heartbeat(self.engine_id, time.time() + self.settings.lease_s)
        lost = {
            run_id
            for run_id in known - held
            if (run := self.runs.get(run_id)) is not None and not run.closing
        }
        if lost:
            self._on_lost(lost)

    def _on_lost(self, ids: set[str]) -> None:
        for execution_id in ids:
            run = self.runs.get(execution_id)
            if run is None:
                continue
            log.warning("engine: execution %s is no longer held here; abandoning it", run.id)
            if run in self._queue:
                self._queue.remove(run)
                self.runs.pop(run.id, None)
            run.abandon()

    async def reap(self) -> None:
        """Recover live executions whose engine is gone (see the module docstring)."""
        live = await self.store.live_engine_ids()
        dead = [e for e in live if e != self.engine_id and engine_is_dead(e)]
        now = time.time()
        reaped = await self.store.reap_executions(
            self.engine_id,
            now=now,
            lease_expires_at=now + self.settings.lease_s,
            dead_engines=dead,
            error=INTERRUPTED,
        )
        for item in reaped:
            ex = await self.store.get_execution(item.user_id, item.id, with_nodes=False)
            if ex is None:
                continue
            if item.status == "queued":
                log.warning("engine: re-queued interrupted execution %s", ex.id)
                await self._resume(ex)
            else:
                log.warning("engine: execution %s failed as interrupted", ex.id)
                self._announce_row(ex)

    def _announce_row(self, ex: Execution) -> None:
        """Events for a state the store changed directly (reaper, remote stop)."""
        self.events.publish(
            Event(
                EXECUTION_UPDATE,
                {
                    "execution_id": ex.id,
                    "workflow_id": ex.workflow_id,
                    "status": ex.status,
                    "progress": ex.progress,
                    "current_node": ex.current_node,
                },
                user_id=ex.user_id,
                workflow_id=ex.workflow_id,
                execution_id=ex.id,
            )
        )
        if ex.terminal:
            level = "warning" if ex.status == "stopped" else "error"
            message = (ex.error or {}).get("message", ex.status)
            self.events.publish(
                Event(
                    NOTIFICATION,
                    {
                        "level": level,
                        "message": f"Execution {ex.id} {ex.status}: {message}",
                        "timestamp": (ex.finished_at or ex.created_at).isoformat(),
                    },
                    user_id=ex.user_id,
                    workflow_id=ex.workflow_id,
                    execution_id=ex.id,
                )
            )

    async def _resume(self, ex: Execution) -> None:
        """Run a re-queued execution this engine has just claimed, from the start."""
        wf = await self.store.get_workflow(ex.user_id, ex.workflow_id)
        try:
            definition = pin_versions(ex.definition or {"nodes": []}, ex.node_versions)
            types = await self.resolve_types(ex.user_id, definition)
            plan = build_plan(definition, types)
        except AxonError as exc:
            error = {"code": "EXECUTION_INTERRUPTED", "message": f"cannot resume: {exc.message}"}
            await self.store.write_execution_batch(
                ExecutionBatch(
                    self.engine_id,
                    finished=[
                        ("failed", 0.0, None, None, _json(error), time.time(), ex.id),
                    ],
                )
            )
            ex.status, ex.error = "failed", error
            self._announce_row(ex)
            return
        run = ExecutionRun(self, ex, plan, workflow_name=wf.name if wf else "")
        self._announce_row(ex)
        self._submit(run)

    # ------------------------------------------------------------ node types
    async def resolve_types(self, user_id: str, definition: dict[str, Any]) -> dict[str, NodeType]:
        """node id -> NodeType for every node (400 naming the node when one is unknown)."""
        if self.resolver is not None:
            return await self._resolve_each(self.resolver, user_id, definition)
        catalog = self.catalog() if self.catalog is not None else None
        if catalog is None:
            first = (definition.get("nodes") or [{"id": None, "type": "?"}])[0]
            raise ValidationError(
                f"Unknown node type {first['type']!r}: no node catalog is installed",
                {"field": "type", "issue": "unknown node type", "node": first["id"]},
            )
        return await catalog.check_definition(user_id, definition)

    @staticmethod
    async def _resolve_each(
        resolver: Resolver, user_id: str, definition: dict[str, Any]
    ) -> dict[str, NodeType]:
        cache: dict[tuple[str, str | None], NodeType] = {}
        out: dict[str, NodeType] = {}
        for node in definition.get("nodes", []):
            key = (node["type"], node.get("version"))
            found = cache.get(key)
            if found is None:
                try:
                    found = await resolver(user_id, *key)
                except ValidationError as exc:
                    raise ValidationError(
                        f"Node {node['id']!r}: {exc.message}",
                        {"field": "type", **exc.details, "node": node["id"]},
                    ) from None
                cache[key] = found
            out[node["id"]] = found
        return out

    def check_code_policy(self, user: User, plan: Plan, via: str = "engine") -> None:
        """`code_nodes`: who may RUN Python code, by the same rule the catalog applies to
        registering it (`nodes.custom.may_run_code`)."""
        code = next((n for n in plan.order if plan.nodes[n].type.execution == "process"), None)
        if code is None:
            return
        policy = self.settings.code_nodes
        if may_run_code(policy, Principal(user=user, via=via)):
            return
        if policy == "off":
            raise Forbidden(
                "Python code nodes are disabled on this server",
                {"policy": "off", "node": code},
            )
        raise Forbidden(
            "only admins and the server owner may run Python code nodes",
            {"policy": "owner", "node": code},
        )

    # ------------------------------------------------------------ launching
    async def start_execution(
        self,
        *,
        user: User,
        workflow: Workflow,
        definition: dict[str, Any],
        workflow_version: int,
        input: dict[str, Any],
        retry_of: Execution | None = None,
        retry_mode: str | None = None,
        rerun_from: str | None = None,
        depth: int = 0,
        via: str = "engine",
    ) -> ExecutionRun:
        """Validate, plan, persist (queued) and submit one execution.

        With `retry_of`, outputs of its succeeded nodes are reused where
        `plan.reusable_nodes` allows; `rerun_from` forces that node and everything
        downstream of it to run again (`from_node`)."""
        if not definition.get("nodes"):
            raise ValidationError(
                "Invalid workflow definition: it has no nodes to run",
                {"field": "definition.nodes", "issue": "is empty"},
            )
        types = await self.resolve_types(user.id, definition)
        plan, encoded = self._plan(workflow.id, workflow_version, definition, types)
        self.check_code_policy(user, plan, via)
        now = time.time()
        ex = Execution(
            id=new_id("exec"),
            workflow_id=workflow.id,
            user_id=user.id,
            workflow_version=workflow_version,
            input=input,
            node_versions=plan.versions,
            definition=definition,
            retry_of=retry_of.id if retry_of is not None else None,
            retry_mode=retry_mode,
            engine_id=self.engine_id,
            lease_expires_at=from_epoch(now + self.settings.lease_s),
            created_at=from_epoch(now),
        )
        reused: dict[str, dict[str, Any]] = {}
        records: list[ExecutionNode] = []
        if retry_of is not None and retry_mode != "from_start":
            if rerun_from is not None and rerun_from not in plan.nodes:
                raise ValidationError(
                    f"Invalid node_id: {rerun_from!r} is not a node of this workflow version",
                    {"field": "node_id", "issue": "is not a node of the workflow"},
                )
            previous = {n.node_id: n for n in retry_of.nodes or ()}
            rerun = plan.descendants(rerun_from) if rerun_from is not None else set()
            for nid in reusable_nodes(plan, previous, retry_of.definition or {}, rerun):
                old = previous[nid]
                reused[nid] = old.outputs or {}
                records.append(
                    replace(old, execution_id=ex.id, attempts=0, started_at=None, finished_at=None)
                )
        await self.store.create_execution(ex, records, encoded=encoded)
        run = ExecutionRun(self, ex, plan, workflow_name=workflow.name, reused=reused, depth=depth)
        run.reused_records = records
        run.via = via
        if reused:
            run.log(None, "info", f"reusing outputs of {len(reused)} node(s) from {retry_of.id}")
        self.events.publish(run.update_event("queued"))
        self._submit(run, immediate=depth > 0)
        return run

    def _plan(
        self,
        workflow_id: str,
        revision: int,
        definition: dict[str, Any],
        types: dict[str, NodeType],
    ) -> tuple[Plan, dict[str, str]]:
        """The plan and the encoded snapshot, cached per workflow revision and resolved
        node types: a revision never changes, and running one again should not pay for
        planning and encoding it again. Plans are read-only once built."""
        refs = tuple((types[node["id"]].ref, node.get("version")) for node in definition["nodes"])
        key = (workflow_id, revision, len(definition.get("connections", ())), refs)
        cached = self._plans.get(key)
        if cached is not None:
            self._plans.move_to_end(key)
            return cached
        plan = build_plan(definition, types)
        encoded = {"definition": _json(definition), "node_versions": _json(plan.versions)}
        self._plans[key] = (plan, encoded)
        if len(self._plans) > PLAN_CACHE_SIZE:
            self._plans.popitem(last=False)
        return plan, encoded

    def _submit(self, run: ExecutionRun, *, immediate: bool = False) -> None:
        self.runs[run.id] = run
        if immediate:
            # A sub-workflow runs inside its parent's slot: queueing it behind the
            # global bound could deadlock a parent that waits for it.
            self._launch(run, counted=False)
        elif not self._queue and len(self._active) < self.settings.max_executions:
            self._launch(run)
        else:
            self._queue.append(run)

    def _launch(self, run: ExecutionRun, *, counted: bool = True) -> None:
        if counted:
            self._active.add(run)
        run.task = asyncio.ensure_future(run.execute())
        run.task.add_done_callback(lambda task, run=run: self._ended(run, task))

    def _ended(self, run: ExecutionRun, task: asyncio.Task) -> None:
        self._active.discard(run)
        if self.runs.get(run.id) is run:
            del self.runs[run.id]
        if not task.cancelled() and task.exception() is not None:
            log.error("execution %s ended with an engine error", run.id, exc_info=task.exception())
        if not run.done.done():
            run.abandon()
        self._admit()

    def _admit(self) -> None:
        while self._queue and len(self._active) < self.settings.max_executions and self._running:
            self._launch(self._queue.popleft())

    # ------------------------------------------------------------ control
    async def wait(self, execution_id: str, seconds: float) -> None:
        """Until the execution is terminal and committed, or `seconds`."""
        run = self.runs.get(execution_id)
        if run is None or seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(run.done), seconds)

    async def stop_execution(self, user_id: str, execution_id: str) -> bool:
        """Stop a live execution; True when this call stopped it (now committed)."""
        run = self.runs.get(execution_id)
        if run is not None and run.user_id == user_id:
            if run in self._queue:
                self._queue.remove(run)
                self.runs.pop(run.id, None)
                run.closing = True
                await run._finish(
                    "stopped", {"code": "EXECUTION_STOPPED", "message": "stopped by user"}
                )
                return True
            if not run.stop():
                await asyncio.shield(run.done)
                return False
            await asyncio.shield(run.done)
            return run.status == "stopped"
        # Not run here: held by another process (it notices at its next heartbeat) or
        # by no one alive. The row changes only if it is still live.
        stopped = await self.store.stop_execution(
            user_id,
            execution_id,
            now=time.time(),
            error={"code": "EXECUTION_STOPPED", "message": "stopped by user"},
        )
        if stopped:
            ex = await self.store.get_execution(user_id, execution_id, with_nodes=False)
            if ex is not None:
                self._announce_row(ex)
        return stopped

    async def run_subworkflow(
        self, parent: ExecutionRun, workflow_id: str, input: dict[str, Any]
    ) -> dict[str, Any]:
        """Run another workflow of the parent's user to completion; return its output."""
        limit = self.settings.max_subworkflow_depth
        if parent.depth + 1 > limit:
            raise NodeError(f"sub-workflows nested deeper than {limit} levels")
        wf = await self.store.get_workflow(parent.user_id, workflow_id)
        user = await self.store.get_user(parent.user_id)
        if wf is None or user is None or wf.definition is None:
            raise NodeError(f"workflow {workflow_id!r} not found")
        child = await self.start_execution(
            user=user,
            workflow=wf,
            definition=wf.definition,
            workflow_version=wf.version,
            input=input,
            depth=parent.depth + 1,
            via=parent.via,
        )
        try:
            await asyncio.shield(child.done)
        except asyncio.CancelledError:
            child.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(child.done)
            raise
        if child.status != "succeeded":
            reason = (child.error or {}).get("message", child.status)
            raise NodeError(f"sub-workflow execution {child.id} {child.status}: {reason}")
        return child.output or {}


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
