"""Axon in notebooks: magics, widgets, the workflow builder and an embedded server.

Reads well either way:

    import axon_jupyter.notebook as axon
    from axon_jupyter.notebook import axon      # the same module

    axon.connect()                    # optional: found automatically on first use
    @axon.node(version="1.0.0")
    def shout(text: str) -> str:
        return text.upper()
    wf = axon.Workflow("etl")
    wf.add("node_manual_trigger", "start") >> wf.add("shout")
    result = wf.run(input={"text": "hi"})
    axon.WorkflowBuilder()

Heavy parts (ipywidgets, the embedded Jupyter server) load on first use, so
`%load_ext axon_jupyter` stays cheap. Never imported by the server side.
"""

from __future__ import annotations

import sys
from typing import Any

from .builder import Workflow
from .connection import client, connect, current, disconnect
from .decorators import node
from .errors import AxonNotebookError, WorkflowInvalid
from .magics import load_ipython_extension
from .runs import last_monitor
from .runs import run_workflow as run

_LAZY = {
    "ExecutionMonitor": ("axon_jupyter.notebook.widgets.monitor", "ExecutionMonitor"),
    "WorkflowBuilder": ("axon_jupyter.notebook.widgets.builder", "WorkflowBuilder"),
    "render_svg": ("axon_jupyter.notebook.widgets.dag", "render_svg"),
}


def whoami() -> Any:
    """The Axon user this notebook acts as (`.via` says through which credential)."""
    return client().auth.me()


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        module, attr = _LAZY[name]
        value = getattr(import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# `from axon_jupyter.notebook import axon` gives this very module.
axon = sys.modules[__name__]

__all__ = [
    "AxonNotebookError",
    "ExecutionMonitor",
    "Workflow",
    "WorkflowBuilder",
    "WorkflowInvalid",
    "axon",
    "client",
    "connect",
    "current",
    "disconnect",
    "last_monitor",
    "load_ipython_extension",
    "node",
    "render_svg",
    "run",
    "whoami",
]
