"""Flow nodes: node_condition (branch), node_delay, node_log, node_subworkflow.

Branching is generic in the engine: a node emits only the ports it returns, and what
hangs off a port not emitted is skipped. So node_condition returns exactly one of
`true` / `false`, carrying the incoming value on.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ..types import NodeContext, NodeError, NodeType, Port
from ._common import NodeSettings, as_number, object_schema, truthy

LOG_LEVELS = ("debug", "info", "warning", "error")
MAX_DELAY = 86_400.0
MAX_LOGGED = 10_000


async def run_condition(
    inputs: dict[str, Any], config: dict[str, Any], ctx: NodeContext
) -> dict[str, Any]:
    if "expression" not in config:
        raise NodeError("config expression is required")
    branch = "true" if truthy(config["expression"]) else "false"
    return {branch: inputs.get("input")}


async def run_delay(
    inputs: dict[str, Any], config: dict[str, Any], ctx: NodeContext
) -> dict[str, Any]:
    """Sleeps in the event loop: a stop cancels the sleep at once."""
    seconds = as_number(config.get("seconds"), "seconds", default=0.0, minimum=0, maximum=MAX_DELAY)
    await asyncio.sleep(seconds)
    return {"output": inputs.get("input")}


async def run_log(
    inputs: dict[str, Any], config: dict[str, Any], ctx: NodeContext
) -> dict[str, Any]:
    level = str(config.get("level") or "info").lower()
    if level not in LOG_LEVELS:
        raise NodeError(f"config level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    value = inputs.get("input")
    message = config.get("message")
    if message is None or message == "":
        message = json.dumps(value, default=str, ensure_ascii=False)
    message = str(message)
    if len(message) > MAX_LOGGED:
        message = message[:MAX_LOGGED] + f"... ({len(message) - MAX_LOGGED} more characters)"
    ctx.log(level, message)
    return {"output": value}


async def run_subworkflow(
    inputs: dict[str, Any], config: dict[str, Any], ctx: NodeContext
) -> dict[str, Any]:
    workflow_id = config.get("workflow_id")
    if not isinstance(workflow_id, str) or not workflow_id:
        raise NodeError("config workflow_id is required")
    if workflow_id == ctx.workflow_id:
        raise NodeError("a workflow cannot run itself as a sub-workflow")
    payload = config.get("input")
    if payload is None:
        payload = inputs.get("input")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise NodeError("the sub-workflow input must be an object")
    ctx.log("info", f"running sub-workflow {workflow_id}")
    return {"output": await ctx.run_subworkflow(workflow_id, payload)}


def node_types(settings: NodeSettings) -> list[NodeType]:
    passthrough = Port("input", "any", False, "Upstream data, passed on")
    return [
        NodeType(
            id="node_condition",
            name="Condition",
            description="Emits the incoming value on `true` or `false` by the truthiness of a "
            'rendered template ("", false, 0, none, null and no are false).',
            category="flow",
            version="1.0.0",
            inputs=[passthrough],
            outputs=[
                Port("true", "any", description="The input, when the expression is true"),
                Port("false", "any", description="The input, when the expression is false"),
            ],
            config_schema=object_schema(
                {
                    "expression": {
                        "type": ["string", "boolean", "number", "null"],
                        "description": "A template, e.g. {{ nodes.fetch.response.status == 200 }}",
                    }
                },
                required=("expression",),
            ),
            builtin=True,
            run=run_condition,
        ),
        NodeType(
            id="node_delay",
            name="Delay",
            description="Waits a number of seconds, then passes its input on.",
            category="flow",
            version="1.0.0",
            inputs=[passthrough],
            outputs=[Port("output", "any", description="The input, unchanged")],
            config_schema=object_schema(
                {"seconds": {"type": "number", "minimum": 0, "maximum": MAX_DELAY}},
                required=("seconds",),
            ),
            builtin=True,
            run=run_delay,
        ),
        NodeType(
            id="node_log",
            name="Log",
            description="Writes a message to the execution's logs and passes its input on.",
            category="utility",
            version="1.0.0",
            inputs=[passthrough],
            outputs=[Port("output", "any", description="The input, unchanged")],
            config_schema=object_schema(
                {
                    "message": {
                        "type": "string",
                        "description": "Template; empty logs the input as JSON",
                    },
                    "level": {"type": "string", "enum": list(LOG_LEVELS), "default": "info"},
                }
            ),
            builtin=True,
            run=run_log,
        ),
        NodeType(
            id="node_subworkflow",
            name="Sub-workflow",
            description="Runs another of your workflows to completion and emits its output.",
            category="flow",
            version="1.0.0",
            inputs=[Port("input", "object", False, "The sub-workflow's input")],
            outputs=[Port("output", "object", description="The sub-workflow's output")],
            config_schema=object_schema(
                {
                    "workflow_id": {"type": "string", "minLength": 1},
                    "input": {
                        "type": "object",
                        "description": "Input for the sub-workflow (default: this node's input)",
                    },
                },
                required=("workflow_id",),
            ),
            builtin=True,
            run=run_subworkflow,
        ),
    ]
