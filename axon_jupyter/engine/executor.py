"""One execution, run: the DAG loop, the per-node attempt loop, and their records.

The core is the topological-sorter protocol of `graphlib.TopologicalSorter`
(`get_ready()`, `done()`; graphlib itself plans and checks the graph, `PlanSorter`
replays its protocol per run without per-node allocations): ready nodes each run as
their own task (bounded per execution, and globally by the engine's node counter); a
node's task, as it ends, marks it `done()` and starts what that readied, from within
the same loop iteration. There is no central loop to wake: O(1) per node however wide
or long the DAG is.

Data flow and branching follow one generic rule: a connection delivers the source
node's output for its `sourcePort` to the target's `targetPort`, if the source emitted
that port. A node with incoming connections of which none delivered is `skipped` (and
so, transitively, is everything that only hangs off it); otherwise it runs with what
arrived. Several connections delivering to one port give that port a list, in
connection order. A node marked `disabled` is skipped.

A node failing (after its retries) fails the execution at once: the other running
nodes are cancelled (`stopped`), nothing new starts. Stop cancels the run the same way.

State changes go through `set_node()` / the run's transitions, which stamp times and
record to the journal; the journal persists, then publishes. Must never import tornado
or anything from api/.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import AxonError
from ..models import Execution, ExecutionNode, from_epoch
from ..nodes.types import NodeError
from ..store.executions import node_from_row
from .journal import notification_event, update_event
from .plan import Plan, PlannedNode, PlanSorter
from .runners import NodeFailure
from .templates import ConfigTemplateError, render_config

if TYPE_CHECKING:
    from .engine import Engine
    from .events import Event

log = logging.getLogger("axon.engine")

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
MAX_OUTPUT_BYTES = 16 * 1024 * 1024
MAX_LOG_LINES = 20_000
MAX_LOG_MESSAGE = 16 * 1024
LOG_LEVELS = {
    "debug": "debug",
    "info": "info",
    "warning": "warning",
    "warn": "warning",
    "error": "error",
    "critical": "error",
    "fatal": "error",
}


class NodeState:
    """The live record of one node in one run (what execution_nodes stores)."""

    __slots__ = (
        "attempts",
        "error",
        "finished_at",
        "id",
        "outputs",
        "outputs_json",
        "run",
        "started_at",
        "status",
        "type_id",
        "version",
    )

    def __init__(self, run: ExecutionRun, node: PlannedNode):
        self.run = run
        self.id = node.id
        self.type_id = node.type.id
        self.version = node.type.version
        self.status = "pending"
        self.attempts = 0
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.outputs: dict[str, Any] | None = None
        self.outputs_json: str | None = None
        self.error: dict[str, Any] | None = None

    def row(self) -> tuple[Any, ...]:
        return (
            self.run.id,
            self.id,
            self.type_id,
            self.version,
            self.status,
            self.attempts,
            self.started_at,
            self.finished_at,
            self.outputs_json,
            None if self.error is None else _dumps(self.error),
        )


class RunContext:
    """The engine's NodeContext: what a running node may ask of the engine."""

    __slots__ = ("_run", "attempt", "node_id")

    def __init__(self, run: ExecutionRun, node_id: str, attempt: int):
        self._run = run
        self.node_id = node_id
        self.attempt = attempt

    @property
    def execution_id(self) -> str:
        return self._run.id

    @property
    def workflow_id(self) -> str:
        return self._run.workflow_id

    @property
    def user_id(self) -> str:
        return self._run.user_id

    @property
    def input(self) -> dict[str, Any]:
        return self._run.input

    @property
    def nodes(self) -> dict[str, dict[str, Any]]:
        return self._run.outputs

    def log(self, level: str, message: str) -> None:
        self._run.log(self.node_id, level, message)

    async def run_subworkflow(self, workflow_id: str, input: dict[str, Any]) -> dict[str, Any]:
        return await self._run.engine.run_subworkflow(self._run, workflow_id, input)


def _error_of(exc: BaseException, node: PlannedNode) -> dict[str, Any]:
    """One handler per outcome: what the client sees for each kind of failure."""
    if isinstance(exc, NodeFailure):
        return exc.error
    if isinstance(exc, TimeoutError):
        return {"code": "NODE_TIMEOUT", "message": f"node timed out after {node.timeout_s:g} s"}
    if isinstance(exc, ConfigTemplateError):
        return {"code": "TEMPLATE_ERROR", "message": str(exc), "field": f"config.{exc.field}"}
    if isinstance(exc, NodeError):
        return {"code": "NODE_ERROR", "message": str(exc)}
    if isinstance(exc, AxonError):
        return {"code": exc.code, "message": exc.message, "details": exc.details}
    log.error("node %s (%s) raised", node.id, node.type.ref, exc_info=exc)
    text = str(exc)
    return {
        "code": "NODE_ERROR",
        "type": type(exc).__name__,
        "message": f"{type(exc).__name__}: {text}" if text else type(exc).__name__,
    }


class _Skip:
    pass


SKIP = _Skip()


class ExecutionRun:
    """The in-memory side of one execution while this engine runs it."""

    def __init__(
        self,
        engine: Engine,
        execution: Execution,
        plan: Plan,
        *,
        workflow_name: str = "",
        reused: dict[str, dict[str, Any]] | None = None,
        depth: int = 0,
    ):
        self.engine = engine
        self.execution = execution  # as inserted (queued): the base of snapshot()
        self.committed = False  # its terminal state is in the database
        self.final_rows: dict[str, tuple[Any, ...]] = {}  # node id -> last committed row
        self.reused_records: list[ExecutionNode] = []
        self.id = execution.id
        self.user_id = execution.user_id
        self.workflow_id = execution.workflow_id
        self.workflow_name = workflow_name
        self.input = execution.input
        self.plan = plan
        self.depth = depth
        self.via = "engine"  # how the principal who started it authenticated (code policy)
        self.status = "queued"
        self.final_progress: float | None = None
        self.current_node: str | None = None
        self.output: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.progress_dirty = False
        self.outputs: dict[str, dict[str, Any]] = {}
        self.reused = reused or {}
        # Live records of running nodes only: a finished node leaves its final row (plain
        # values) with the journal and its status here (strings: nothing for the garbage
        # collector to walk), so a 10k-node run never holds 10k record objects at once.
        self.states: dict[str, NodeState] = {}
        self.statuses: dict[str, str] = dict.fromkeys(self.reused, "succeeded")
        self.total = len(plan.nodes)
        self.finished_count = 0
        self.task: asyncio.Task | None = None
        self.done: asyncio.Future = asyncio.get_running_loop().create_future()
        self.abandoned = False
        self.stop_requested = False
        self.closing = False  # a terminal state is being recorded: stop is too late
        self._cancel_error: dict[str, Any] = {"code": "STOPPED", "message": "execution stopped"}
        self._log_lines = 0
        self._failure: str | None = None
        self.failure_reason: str | None = None
        self._running: dict[str, asyncio.Task] = {}  # node id -> its task
        self._ready: deque[str] = deque()
        self._sorter: PlanSorter | None = None
        self._all_done: asyncio.Future | None = None
        self._stopping = False

    # ------------------------------------------------------------ records
    @property
    def progress(self) -> float:
        """Share of nodes finished (succeeded, failed, skipped or reused), 0..1."""
        if self.final_progress is not None:
            return self.final_progress
        return round(self.finished_count / self.total, 4) if self.total else 0.0

    def update_event(self, status: str) -> Event:
        return update_event(self, status)

    def notification_event(self) -> Event:
        return notification_event(self)

    def log(self, node_id: str | None, level: str, message: str) -> None:
        if self._log_lines >= MAX_LOG_LINES:
            return
        self._log_lines += 1
        if self._log_lines == MAX_LOG_LINES:
            level, message = "warning", f"log limit of {MAX_LOG_LINES} lines reached"
        if len(message) > MAX_LOG_MESSAGE:
            message = message[:MAX_LOG_MESSAGE] + " [truncated]"
        self.engine.journal.log(
            (self.id, time.time(), LOG_LEVELS.get(str(level).lower(), "info"), node_id, message)
        )

    def _state(self, node: PlannedNode) -> NodeState:
        state = self.states.get(node.id)
        if state is None:
            state = self.states[node.id] = NodeState(self, node)
        return state

    def _finish_node(self, state: NodeState, status: str) -> None:
        state.status = status
        self.statuses[state.id] = status
        if status == "failed" and self.failure_reason is None:
            self.failure_reason = (state.error or {}).get("message")
        state.finished_at = time.time()
        self.engine.journal.node(state)  # takes its final row
        self.states.pop(state.id, None)
        self.finished_count += 1
        self.engine.journal.progress(self)

    # ------------------------------------------------------------ the DAG loop
    async def execute(self) -> None:
        """Run to a terminal state and commit it (unless abandoned)."""
        self.status = "running"
        self.started_at = time.time()
        self.engine.journal.started(self)
        try:
            status, error = await self._run_dag()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            await self._cancel_running()
            if self.abandoned:
                self._resolve_done()
                return
            status, error = "stopped", {"code": "EXECUTION_STOPPED", "message": "stopped by user"}
        except Exception as exc:  # an engine bug must still end the execution
            log.exception("execution %s crashed in the engine", self.id)
            await self._cancel_running()
            status = "failed"
            error = {"code": "INTERNAL_ERROR", "message": f"engine error: {type(exc).__name__}"}
        await self._finish(status, error)

    async def _run_dag(self) -> tuple[str, dict[str, Any] | None]:
        plan = self.plan
        self._sorter = plan.sorter()
        self._ready.extend(self._sorter.get_ready())
        self._all_done = asyncio.get_running_loop().create_future()
        self._schedule()
        await self._all_done
        if self._failure is not None:
            reason = self.failure_reason or "failed"
            self.current_node = self._failure
            return "failed", {
                "code": "NODE_FAILED",
                "message": f"node {self._failure!r} failed: {reason}",
                "node_id": self._failure,
            }
        self.output = {
            sink: self.outputs[sink]
            for sink in plan.sinks
            if self.statuses.get(sink) == "succeeded"
        }
        self.current_node = None
        return "succeeded", None

    def _schedule(self) -> None:
        """Start what is ready, within the per-execution and global bounds. Called at the
        start and by every node as it finishes (from its own task), so a finished node's
        successors start in the same loop iteration: no central loop to wake up."""
        try:
            ready, running, nodes = self._ready, self._running, self.plan.nodes
            sorter, engine = self._sorter, self.engine
            limit = engine.settings.max_parallel_nodes
            budget = engine.settings.max_running_nodes
            while ready and len(running) < limit and self._failure is None and not self._stopping:
                nid = ready[0]
                if nid in self.reused:
                    ready.popleft()
                    self.outputs[nid] = self.reused[nid]
                    self.finished_count += 1
                    sorter.done(nid)
                    ready.extend(sorter.get_ready())
                    continue
                node = nodes[nid]
                inputs = self._gather(node)
                if inputs is SKIP:
                    ready.popleft()
                    self._finish_node(self._state(node), "skipped")
                    sorter.done(nid)
                    ready.extend(sorter.get_ready())
                    continue
                if engine.nodes_running >= budget:
                    engine.starved.add(self)  # woken when any node anywhere finishes
                    break
                ready.popleft()
                engine.nodes_running += 1
                task = asyncio.get_running_loop().create_task(
                    self._run_node(node, inputs), name=nid
                )
                running[nid] = task
            if (
                not running
                and (not ready or self._failure is not None or self._stopping)
                and not self._all_done.done()
            ):
                self._all_done.set_result(None)
        except Exception as exc:  # an engine bug surfaces in execute(), not in a node
            if self._all_done is not None and not self._all_done.done():
                self._all_done.set_exception(exc)

    def _report(self, nid: str, ok: bool) -> None:
        """A node's task is ending: account for it and start what it unblocked."""
        if self._running.pop(nid, None) is None:
            return
        self.engine.release_node()
        if ok:
            self._sorter.done(nid)
            self._ready.extend(self._sorter.get_ready())
        elif self._failure is None and not self._stopping:
            self._failure = nid
            self._cancel_error = {
                "code": "CANCELLED",
                "message": f"cancelled because node {nid!r} failed",
            }
            for other in list(self._running.values()):
                self._cancel(other)
        self._schedule()

    def _cancel(self, task: asyncio.Task) -> None:
        # A task cancelled before it ever ran never reaches its `finally`: its done
        # callback reports it instead (a no-op for a task that did report).
        task.add_done_callback(self._task_closed)
        task.cancel()

    def _task_closed(self, task: asyncio.Task) -> None:
        self._report(task.get_name(), False)

    def wake(self) -> None:
        """The engine's global node bound has room again."""
        if self._all_done is not None and not self._all_done.done():
            asyncio.get_running_loop().call_soon(self._schedule)

    def _gather(self, node: PlannedNode) -> dict[str, Any] | _Skip:
        if node.disabled:
            return SKIP
        if not node.incoming:
            return {}
        inputs: dict[str, Any] = {}
        multi: set[str] = set()
        delivered = False
        outputs = self.outputs
        for src, sport, tport in node.incoming:
            out = outputs.get(src)
            if out is None or sport not in out:
                continue
            delivered = True
            value = out[sport]
            if tport not in inputs:
                inputs[tport] = value
            elif tport in multi:
                inputs[tport].append(value)
            else:
                inputs[tport] = [inputs[tport], value]
                multi.add(tport)
        return inputs if delivered else SKIP

    async def _cancel_running(self) -> None:
        self._stopping = True
        tasks = list(self._running.values())
        for task in tasks:
            self._cancel(task)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for nid in list(self._running):
            self._report(nid, False)

    # ------------------------------------------------------------ one node
    async def _run_node(self, node: PlannedNode, inputs: dict[str, Any]) -> bool:
        """All attempts of one node (one coroutine: this is the per-node hot path);
        True when it succeeded."""
        state = self._state(node)
        journal = self.engine.journal
        runner = self.engine.runner_for(node.type)
        error: dict[str, Any] = {}
        ok = False
        try:
            for attempt in range(1, node.max_attempts + 1):
                state.status = "running"
                state.attempts = attempt
                if state.started_at is None:
                    state.started_at = time.time()
                state.error = None
                journal.node(state)
                if self.current_node != node.id:
                    self.current_node = node.id
                    journal.progress(self)
                try:
                    config = node.config
                    if node.templated:
                        context = {"input": self.input, "nodes": self.outputs, "inputs": inputs}
                        config = render_config(config, context, node.raw_keys)
                    ctx = RunContext(self, node.id, attempt)
                    if node.timeout_s:
                        async with asyncio.timeout(node.timeout_s):
                            result = await runner.run(node.type, inputs, config, ctx)
                    else:
                        result = await runner.run(node.type, inputs, config, ctx)
                    outputs = self._normalize(node, result)
                    try:
                        encoded = _dumps(outputs)
                    except (TypeError, ValueError) as exc:
                        raise NodeFailure(
                            {"code": "OUTPUT_ERROR", "message": f"outputs are not JSON: {exc}"}
                        ) from None
                    if len(encoded) > MAX_OUTPUT_BYTES:
                        raise NodeFailure(
                            {
                                "code": "OUTPUT_ERROR",
                                "message": f"node outputs larger than {MAX_OUTPUT_BYTES} bytes",
                            }
                        )
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    error = _error_of(exc, node)
                    if isinstance(exc, ConfigTemplateError):
                        break  # a template renders the same every time: retrying cannot help
                else:
                    state.outputs = outputs
                    state.outputs_json = encoded
                    self.outputs[node.id] = outputs
                    self._finish_node(state, "succeeded")
                    ok = True
                    return True
                if attempt < node.max_attempts:
                    state.error = error
                    self.log(
                        node.id,
                        "warning",
                        f"attempt {attempt}/{node.max_attempts} failed: "
                        f"{error.get('message')}; retrying in {node.backoff_s:g} s",
                    )
                    if node.backoff_s:
                        await asyncio.sleep(node.backoff_s)
            state.error = error
            self.log(node.id, "error", f"node {node.id!r} failed: {error.get('message')}")
            self._finish_node(state, "failed")
            return False
        except asyncio.CancelledError:
            if not self.abandoned:
                state.error = self._cancel_error
                state.status = "stopped"
                state.finished_at = time.time()
                journal.node(state)
                self.states.pop(state.id, None)
            raise
        finally:
            # From the node's own task: its successors start in this same iteration.
            self._report(node.id, ok)

    @staticmethod
    def _normalize(node: PlannedNode, result: Any) -> dict[str, Any]:
        """A dict keyed by output port; any other value goes to the single output port."""
        ports = node.output_ports
        if isinstance(result, dict) and (not ports or result.keys() <= ports):
            return result
        if node.single_output is not None:
            return {node.single_output: result}
        if result is None:
            return {}
        unknown = sorted(set(result) - ports) if isinstance(result, dict) else None
        raise NodeFailure(
            {
                "code": "OUTPUT_ERROR",
                "message": (
                    f"node returned unknown output ports {unknown}; declared: {sorted(ports)}"
                    if unknown
                    else f"node must return a dict keyed by its output ports {sorted(ports)}"
                ),
            }
        )

    # ------------------------------------------------------------ endings
    async def _finish(self, status: str, error: dict[str, Any] | None) -> None:
        self.closing = True
        self.status = status
        self.error = error
        self.finished_at = time.time()
        if status == "succeeded":
            self.final_progress = 1.0
        else:
            self.output = None
        elapsed = self.finished_at - (self.started_at or self.finished_at)
        if status == "succeeded":
            self.log(None, "info", f"execution succeeded in {elapsed:.3f} s")
        elif error is not None:
            self.log(None, "error" if status == "failed" else "warning", error["message"])
        await self.engine.journal.finished(self)
        self.committed = True
        self._resolve_done()

    def snapshot(self) -> Execution:
        """The execution as committed, built from memory: valid once `committed` (the
        journal wrote exactly these rows before resolving `done`), so a caller that
        waited for the end need not read back what it just wrote."""
        ex = replace(
            self.execution,
            status=self.status,
            progress=self.progress,
            current_node=self.current_node,
            output=self.output,
            error=self.error,
            lease_expires_at=None,
            started_at=from_epoch(self.started_at),
            finished_at=from_epoch(self.finished_at),
        )
        ex.nodes = list(self.reused_records) + [node_from_row(r) for r in self.final_rows.values()]
        return ex

    def _resolve_done(self) -> None:
        if not self.done.done():
            self.done.set_result(self.status)

    def stop(self) -> bool:
        """Cancel the run (it records `stopped`); False when it is already ending."""
        if self.closing or self.abandoned:
            return False
        self.stop_requested = True
        if self.task is not None:
            self.task.cancel()
        return True

    def abandon(self) -> None:
        """Stop without writing anything: the engine lost the execution or shuts down."""
        if self.closing and self.done.done():
            return
        self.abandoned = True
        if self.task is not None and not self.task.done():
            self.task.cancel()
        else:
            self._resolve_done()
