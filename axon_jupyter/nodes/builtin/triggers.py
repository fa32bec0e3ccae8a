"""node_manual_trigger: where a manually executed workflow's input enters the DAG."""

from __future__ import annotations

from typing import Any

from ..types import NodeContext, NodeType, Port
from ._common import NodeSettings, object_schema


async def run_manual_trigger(
    inputs: dict[str, Any], config: dict[str, Any], ctx: NodeContext
) -> dict[str, Any]:
    """The execution's input, over the configured defaults (the caller's values win)."""
    defaults = config.get("defaults") or {}
    given = ctx.input if isinstance(ctx.input, dict) else {}
    return {"output": {**defaults, **given}}


def node_types(settings: NodeSettings) -> list[NodeType]:
    return [
        NodeType(
            id="node_manual_trigger",
            name="Manual Trigger",
            description="Starts a workflow run by hand (REST, SDK, notebook) and passes the "
            "execution's input on, over optional default values.",
            category="trigger",
            version="1.0.0",
            inputs=[],
            outputs=[Port("output", "object", description="The execution input")],
            config_schema=object_schema(
                {
                    "defaults": {
                        "type": "object",
                        "description": "Values used when the execution input lacks them",
                    }
                }
            ),
            builtin=True,
            run=run_manual_trigger,
        )
    ]
