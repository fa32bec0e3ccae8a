"""Running a workflow from a notebook: execute, show the monitor, follow or not.

One function that `%axon run`, `Workflow.run()` and the builder's Run button share:
- `wait=True` follows the execution to its end in the calling thread (the monitor's
  widgets update live as events arrive) and returns the final execution; Ctrl-C stops
  the execution;
- `wait=False` returns the queued execution at once; inside a kernel the monitor then
  follows on the kernel's event loop, so it keeps updating after the cell returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from .builder import resolve_workflow

_last_monitor: Any = None


def last_monitor() -> Any:
    """The ExecutionMonitor of the most recent run from this process (e.g. to check on
    `%axon run etl --no-wait` later, or `await last_monitor().wait_async()`)."""
    return _last_monitor


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread (a kernel's), or None (plain IPython)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def display_widget(widget: Any) -> None:
    from IPython.display import display

    display(widget)


def run_workflow(
    workflow: str,
    *,
    input: Mapping[str, Any] | None = None,
    wait: bool = True,
    monitor: bool = True,
    connection: Any = None,
    show: bool = True,
) -> Any:
    """Execute `workflow` (id or name) with `input`; see the module docstring."""
    from .connection import current, current_kernel
    from .widgets.monitor import ExecutionMonitor

    connection = connection or current()
    client = connection.client
    wf = resolve_workflow(client, workflow)
    execution = client.workflows.execute(wf.id, input=dict(input or {}))
    if not monitor:
        return client.executions.wait(execution.id, timeout=None) if wait else execution
    global _last_monitor
    widget = ExecutionMonitor(
        execution, connection=connection, definition=wf.definition, workflow_name=wf.name
    )
    _last_monitor = widget
    # Outside a kernel nothing renders a widget: say the outcome in a line instead.
    in_kernel = current_kernel() is not None
    if show and in_kernel:
        display_widget(widget)
    if wait:
        final = widget.follow()
        if show and not in_kernel:
            print(widget.summary())
        return final
    if running_loop() is not None:
        widget.follow_in_background()
    elif show and not in_kernel:
        print(f"{execution.id} {execution.status}; follow it: %axon logs {execution.id} -f")
    return execution
