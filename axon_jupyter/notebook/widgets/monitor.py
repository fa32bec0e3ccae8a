"""`ExecutionMonitor`: one execution, live, as a composite of core ipywidgets.

State lives in plain traitlets (status, progress, current_node, node_states, duration,
output, error, log_lines); `@observe` re-renders the children from them, so whatever
feeds the traits (the SDK's WebSocket stream, a REST read, a test) draws the same.

Two ways to follow an execution, both through the SDK:
- `follow()` blocks the calling thread on `executions.stream()` until the execution
  ends (plain IPython, scripts, `%axon run` in a cell); Ctrl-C stops the execution;
- `follow_in_background()` runs the same loop with the async SDK as a task on the
  running event loop (a kernel's), so the widget updates after the cell has returned and
  the Stop button works.
No custom JavaScript: the DAG is an SVG string in an `HTML` widget.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import time
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
from traitlets import Any as AnyTrait
from traitlets import Dict, Float, List, Unicode, observe

from ..errors import describe
from .dag import STATE_COLOURS, render_svg

TERMINAL = frozenset({"succeeded", "failed", "stopped"})
NODE_DONE = frozenset({"succeeded", "failed", "stopped", "skipped"})
BAR_STYLE = {"succeeded": "success", "failed": "danger", "stopped": "warning", "running": "info"}
LOG_REFRESH_INTERVAL = 0.5
MAX_LOG_LINES = 200


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds:.2f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def _json(value: Any, limit: int = 4000) -> str:
    try:
        text = json.dumps(value, indent=2, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "\n…"


def _badge(status: str, kind: str = "node") -> str:
    fill, stroke = STATE_COLOURS.get(status, STATE_COLOURS["pending"])
    style = (
        f"background:{fill};color:{stroke};border:1px solid {stroke};border-radius:10px;"
        "padding:1px 9px;font-weight:600"
    )
    return (
        f'<span class="axon-status axon-{kind}-status" data-status="{html.escape(status)}" '
        f'style="{style}">{html.escape(status)}</span>'
    )


def _log_line(entry: Any) -> str:
    stamp = entry.timestamp.strftime("%H:%M:%S.%f")[:-3] if entry.timestamp else "--:--:--"
    node = f" [{entry.node_id}]" if entry.node_id else ""
    return f"{stamp} {(entry.level or 'info').upper():<7}{node} {entry.message or ''}"


class ExecutionMonitor(widgets.VBox):
    """A live view of one execution: progress, states, DAG, logs, outcome, Stop."""

    execution_id = Unicode("", help="The execution shown (exec_...).")
    workflow_id = Unicode("", help="Its workflow (wf_...).")
    status = Unicode("queued", help="queued, running, succeeded, failed or stopped.")
    progress = Float(0.0, help="Share of nodes finished, 0..1.")
    current_node = Unicode(None, allow_none=True, help="The node running now, if any.")
    node_states = Dict(help="node id -> pending/running/succeeded/failed/skipped/stopped.")
    duration = Float(None, allow_none=True, help="Seconds from start to end (or so far).")
    output = AnyTrait(None, help="The outputs of the sink nodes, once succeeded.")
    error = AnyTrait(None, help="What went wrong, once failed.")
    log_lines = List(Unicode(), help="The tail of the execution's log.")

    def __init__(
        self,
        execution: Any,
        *,
        connection: Any = None,
        definition: Mapping[str, Any] | None = None,
        workflow_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        from ..connection import current

        self.connection = connection or current()
        client = self.connection.client
        if isinstance(execution, str):
            execution = client.executions.get(execution)
        self.definition: dict[str, Any] = dict(definition or {})
        self.workflow_name = workflow_name
        self._log_cursor: Any = None
        self._last_log_fetch = 0.0
        self._started = time.monotonic()
        self._task: asyncio.Task | None = None
        self._stop_requested = False
        self._attempts: dict[str, int] = {}
        self._synced = False
        self.final: Any = None

        self._header = widgets.HTML()
        self._bar = widgets.FloatProgress(
            value=0.0, min=0.0, max=1.0, description="", layout=widgets.Layout(width="100%")
        )
        self._info = widgets.HTML()
        self._dag = widgets.HTML(layout=widgets.Layout(overflow="auto"))
        self._nodes = widgets.HTML()
        self._logs = widgets.HTML()
        self._outcome = widgets.HTML()
        self.stop_button = widgets.Button(
            description="Stop", icon="stop", button_style="danger", tooltip="Stop this execution"
        )
        self.stop_button.on_click(self._on_stop_clicked)
        kwargs.setdefault("layout", widgets.Layout(border="1px solid #d1d5db", padding="6px"))
        super().__init__(
            children=[
                self._header,
                widgets.HBox([self._bar, self.stop_button]),
                self._info,
                self._dag,
                self._nodes,
                self._logs,
                self._outcome,
            ],
            **kwargs,
        )
        self.add_class("axon-execution-monitor")
        self.execution_id = execution.id
        self.workflow_id = execution.workflow_id or ""
        if not self.definition and self.workflow_id:
            self.definition = self._load_definition(client, execution)
        self.node_states = {n["id"]: "pending" for n in self.definition.get("nodes") or []}
        self.apply_execution(execution)
        self._render_all()

    # ------------------------------------------------------------ feeding the traits
    @staticmethod
    def _load_definition(client: Any, execution: Any) -> dict[str, Any]:
        try:
            if execution.workflow_version is not None:
                rev = client.workflows.get_version(
                    execution.workflow_id, execution.workflow_version
                )
                return dict(rev.definition or {})
            return dict(client.workflows.get(execution.workflow_id).definition or {})
        except Exception:  # the monitor still works without a picture
            return {}

    def apply_execution(self, execution: Any) -> None:
        """Take everything an Execution read over REST tells (states, output, error)."""
        with self.hold_trait_notifications():
            for node in execution.nodes or []:
                self.apply_node_update(node)
            self.apply_update(execution)
            if execution.is_terminal:
                self.output = execution.output
                self.error = execution.error
                if execution.duration is not None:
                    self.duration = float(execution.duration)
        if execution.is_terminal:
            self.final = execution

    def apply_update(self, update: Any) -> None:
        """An ExecutionUpdate (or Execution): status, progress, current node."""
        with self.hold_trait_notifications():
            if update.status:
                self.status = update.status
            if update.progress is not None:
                self.progress = float(update.progress)
            self.current_node = None if self.status in TERMINAL else update.current_node
            if self.status not in TERMINAL:
                self.duration = time.monotonic() - self._started

    def apply_node_update(self, update: Any) -> None:
        """A NodeUpdate; never moves a finished node back unless it is a new attempt
        (a REST read and an event in flight may arrive in either order)."""
        node_id, status = update.node_id, update.status
        if not node_id or not status:
            return
        attempts = update.attempts or 0
        known = self.node_states.get(node_id)
        regress = known in NODE_DONE and status not in NODE_DONE
        if regress and attempts <= self._attempts.get(node_id, 0):
            return
        self._attempts[node_id] = max(attempts, self._attempts.get(node_id, 0))
        self.node_states = {**self.node_states, node_id: status}

    def add_logs(self, entries: list[Any]) -> None:
        if entries:
            lines = [*self.log_lines, *(_log_line(e) for e in entries)]
            self.log_lines = lines[-MAX_LOG_LINES:]

    def _feed(self, update: Any) -> None:
        if getattr(update, "type", None) == "node_update":
            self.apply_node_update(update)
        else:
            self.apply_update(update)

    def _logs_due(self, update: Any) -> bool:
        now = time.monotonic()
        if (
            getattr(update, "is_terminal", False)
            or now - self._last_log_fetch >= LOG_REFRESH_INTERVAL
        ):
            self._last_log_fetch = now
            return True
        return False

    # ------------------------------------------------------------ following (blocking)
    def follow(self, timeout: float | None = None) -> Any:
        """Follow until the execution ends; returns the final Execution. Ctrl-C stops
        the execution (and still returns its final state)."""
        client = self.connection.client
        try:
            self._stream(client, timeout)
            final = client.executions.wait(self.execution_id, timeout=timeout)
        except KeyboardInterrupt:
            print(f"Interrupted: stopping {self.execution_id}")
            self._stop_sync(client)
            final = client.executions.wait(self.execution_id, timeout=30)
        self._fetch_logs(client)
        self.apply_execution(final)
        return final

    def _stream(self, client: Any, timeout: float | None) -> None:
        from axonos import APIConnectionError, AuthenticationError

        try:
            for update in client.executions.stream(self.execution_id, timeout=timeout):
                self._feed(update)
                if not self._synced:  # what happened before the subscription
                    self._synced = True
                    self.apply_execution(client.executions.get(self.execution_id))
                if self._logs_due(update):
                    self._fetch_logs(client)
        except (APIConnectionError, AuthenticationError):
            pass  # the socket failed: the REST wait that follows tells the same story

    def _fetch_logs(self, client: Any) -> None:
        page = client.executions.logs(self.execution_id, after=self._log_cursor, limit=100)
        self.add_logs(page.logs)
        self._log_cursor = page.next_after

    def _stop_sync(self, client: Any) -> None:
        from axonos import ConflictError

        self._stop_requested = True
        with contextlib.suppress(ConflictError):  # it finished meanwhile
            self.apply_execution(client.executions.stop(self.execution_id))

    # ------------------------------------------------------------ following (event loop)
    def follow_in_background(self) -> asyncio.Task:
        """Follow as a task on the running loop; the cell can return meanwhile."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._follow_async())
        return self._task

    async def wait_async(self) -> Any:
        """Await the background follow; returns the final Execution."""
        task = self.follow_in_background()
        return await task

    async def _follow_async(self) -> Any:
        from axonos import APIConnectionError, AuthenticationError

        aclient = self.connection.async_client()
        try:
            try:
                async for update in aclient.executions.stream(self.execution_id):
                    self._feed(update)
                    if not self._synced:
                        self._synced = True
                        self.apply_execution(await aclient.executions.get(self.execution_id))
                    if self._logs_due(update):
                        await self._fetch_logs_async(aclient)
            except (APIConnectionError, AuthenticationError):
                pass  # as in follow(): polling takes over
            final = await aclient.executions.wait(self.execution_id, timeout=None)
            await self._fetch_logs_async(aclient)
            self.apply_execution(final)
            return final
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a background task must never die unseen
            self._outcome.value = (
                f'<div style="color:#b91c1c">monitor stopped following: '
                f"{html.escape(describe(exc))}</div>"
            )
            return None
        finally:
            await aclient.close()

    async def _fetch_logs_async(self, aclient: Any) -> None:
        page = await aclient.executions.logs(self.execution_id, after=self._log_cursor, limit=100)
        self.add_logs(page.logs)
        self._log_cursor = page.next_after

    async def _stop_async(self) -> None:
        from axonos import ConflictError

        aclient = self.connection.async_client()
        try:
            self.apply_execution(await aclient.executions.stop(self.execution_id))
        except ConflictError:
            pass
        except Exception as exc:
            self._info.value += f" <span style='color:#b91c1c'>{html.escape(describe(exc))}</span>"
        finally:
            await aclient.close()

    # ------------------------------------------------------------ stopping
    def stop(self) -> None:
        """Ask the server to stop the execution (from code; the button does the same)."""
        self._on_stop_clicked(self.stop_button)

    def _on_stop_clicked(self, _button: Any) -> None:
        if self.status in TERMINAL:
            return
        self._stop_requested = True
        self.stop_button.disabled = True
        self.stop_button.description = "Stopping…"
        loop = _running_loop()
        if loop is not None:
            # On the kernel's loop: never block it (the server may be on it, as in tests).
            self._stop_task = loop.create_task(self._stop_async())
        else:
            self._stop_sync(self.connection.client)

    # ------------------------------------------------------------ rendering
    @observe("status", "progress", "current_node", "duration")
    def _on_progress(self, _change: Any = None) -> None:
        self._render_header()

    @observe("node_states", "current_node")
    def _on_nodes(self, _change: Any = None) -> None:
        self._render_dag()

    @observe("log_lines")
    def _on_logs(self, _change: Any = None) -> None:
        self._render_logs()

    @observe("output", "error", "status")
    def _on_outcome(self, _change: Any = None) -> None:
        self._render_outcome()

    def _render_all(self) -> None:
        self._render_header()
        self._render_dag()
        self._render_logs()
        self._render_outcome()

    def _render_header(self) -> None:
        if not hasattr(self, "_header"):
            return
        name = html.escape(self.workflow_name or self.workflow_id)
        self._header.value = (
            f'<div style="display:flex;gap:10px;align-items:center">'
            f"<b>{name}</b> <code>{html.escape(self.execution_id)}</code> "
            f"{_badge(self.status, 'execution')}"
            "</div>"
        )
        self._bar.value = max(0.0, min(1.0, self.progress))
        self._bar.bar_style = BAR_STYLE.get(self.status, "")
        done = sum(1 for s in self.node_states.values() if s in ("succeeded", "skipped"))
        current = (
            f"current node: <code>{html.escape(self.current_node)}</code> · "
            if self.current_node
            else ""
        )
        self._info.value = (
            f'<span class="axon-info">{current}{done}/{len(self.node_states)} nodes · '
            f"{self.progress:.0%} · {_fmt_duration(self.duration)}</span>"
        )
        terminal = self.status in TERMINAL
        self.stop_button.disabled = terminal or self._stop_requested
        self.stop_button.layout.visibility = "hidden" if terminal else "visible"

    def _render_dag(self) -> None:
        if not hasattr(self, "_dag"):
            return
        self._dag.value = render_svg(
            self.definition, self.node_states, current=self.current_node, title=self.workflow_name
        )
        rows = []
        for node in self.definition.get("nodes") or []:
            state = self.node_states.get(node["id"], "pending")
            rows.append(
                f"<tr><td><code>{html.escape(node['id'])}</code></td>"
                f"<td>{html.escape(str(node.get('type', '')))}</td><td>{_badge(state)}</td></tr>"
            )
        self._nodes.value = (
            '<table class="axon-nodes" style="font-size:12px"><tr><th align="left">node</th>'
            '<th align="left">type</th><th align="left">state</th></tr>'
            + "".join(rows)
            + "</table>"
            if rows
            else ""
        )

    def _render_logs(self) -> None:
        if not hasattr(self, "_logs"):
            return
        tail = self.log_lines[-20:]
        self._logs.value = (
            '<pre class="axon-logs" style="max-height:12em;overflow:auto;font-size:11px;'
            'background:#f9fafb;padding:4px;margin:2px 0">'
            + html.escape("\n".join(tail))
            + "</pre>"
            if tail
            else ""
        )

    def _render_outcome(self) -> None:
        if not hasattr(self, "_outcome"):
            return
        if self.status == "succeeded":
            self._outcome.value = (
                "<details open><summary>output</summary>"
                f'<pre class="axon-output" style="font-size:11px">{html.escape(_json(self.output))}'
                "</pre></details>"
            )
        elif self.status in ("failed", "stopped"):
            error = self.error
            if isinstance(error, Mapping):
                error = error.get("message") or _json(error)
            self._outcome.value = (
                f'<div class="axon-error" style="color:#b91c1c">{html.escape(self.status)}: '
                f"{html.escape(str(error or ''))}</div>"
            )
        else:
            self._outcome.value = ""

    def summary(self) -> str:
        """One line for terminals and logs."""
        text = f"{self.execution_id} {self.status} in {_fmt_duration(self.duration)}"
        if self.status == "succeeded":
            text += f"; output: {json.dumps(self.output, default=str)[:300]}"
        elif self.error:
            text += f"; error: {self.error}"
        return text

    def __repr__(self) -> str:
        return f"<ExecutionMonitor {self.summary()}>"


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
