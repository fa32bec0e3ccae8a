"""Data nodes: node_set (constants), node_transform (mapping), node_merge (join branches).

Templates in config strings are rendered by the engine before `run` is called, so a
rendered value is always a string. node_transform adds typed lookups into its `input`
port: a mapping value that is exactly `$input` or `$input.path.to[0].field` is replaced
by that value itself (a list stays a list, a number a number).
"""

from __future__ import annotations

import re
from typing import Any

from ..types import NodeContext, NodeError, NodeType, Port
from ._common import NodeSettings, as_bool, object_schema

_PATH_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\[\"([^\"]*)\"\]")
MERGE_PORTS = ("input_1", "input_2", "input_3", "input_4")
MERGE_MODES = ("object", "list", "merge", "first")


def lookup(value: Any, path: str) -> Any:
    """Follow `.key`, `[0]` and `["odd key"]` steps; a missing step gives None."""
    pos = 0
    while pos < len(path):
        match = _PATH_TOKEN.match(path, pos)
        if match is None:
            raise NodeError(f"invalid path {path!r} at {path[pos:]!r}")
        key, index, quoted = match.groups()
        if index is not None:
            i = int(index)
            value = value[i] if isinstance(value, list) and i < len(value) else None
        else:
            name = key if key is not None else quoted
            value = value.get(name) if isinstance(value, dict) else None
        pos = match.end()
    return value


def _apply(template: Any, source: Any) -> Any:
    if isinstance(template, str) and (template == "$input" or template.startswith("$input.")):
        return lookup(source, template[len("$input") :])
    if isinstance(template, str) and template.startswith("$input["):
        return lookup(source, template[len("$input") :])
    if isinstance(template, dict):
        return {k: _apply(v, source) for k, v in template.items()}
    if isinstance(template, list):
        return [_apply(v, source) for v in template]
    return template


async def run_set(
    inputs: dict[str, Any], config: dict[str, Any], ctx: NodeContext
) -> dict[str, Any]:
    values = config.get("values") or {}
    if as_bool(config.get("merge_input"), "merge_input", default=False):
        upstream = inputs.get("input")
        if isinstance(upstream, dict):
            return {"output": {**upstream, **values}}
    return {"output": dict(values)}


async def run_transform(
    inputs: dict[str, Any], config: dict[str, Any], ctx: NodeContext
) -> dict[str, Any]:
    source = inputs.get("input")
    mapped = _apply(config.get("mapping") or {}, source)
    if as_bool(config.get("keep_input"), "keep_input", default=False) and isinstance(source, dict):
        mapped = {**source, **mapped}
    return {"output": mapped}


async def run_merge(
    inputs: dict[str, Any], config: dict[str, Any], ctx: NodeContext
) -> dict[str, Any]:
    """Whatever arrived, in port order: a branch not taken simply is not there."""
    mode = config.get("mode") or "object"
    arrived = [(port, inputs[port]) for port in MERGE_PORTS if port in inputs]
    if mode == "object":
        return {"output": dict(arrived)}
    if mode == "list":
        return {"output": [value for _, value in arrived]}
    if mode == "first":
        return {"output": arrived[0][1] if arrived else None}
    if mode == "merge":
        merged: dict[str, Any] = {}
        for port, value in arrived:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise NodeError(
                    f"mode merge needs objects, but {port} carries {type(value).__name__}"
                )
            merged.update(value)
        return {"output": merged}
    raise NodeError(f"config mode must be one of {', '.join(MERGE_MODES)}, got {mode!r}")


def node_types(settings: NodeSettings) -> list[NodeType]:
    passthrough = Port("input", "any", False, "Upstream data")
    out = Port("output", "object", description="The resulting object")
    return [
        NodeType(
            id="node_set",
            name="Set",
            description="Emits constant values (optionally merged over the incoming object).",
            category="data",
            version="1.0.0",
            inputs=[passthrough],
            outputs=[out],
            config_schema=object_schema(
                {
                    "values": {
                        "type": "object",
                        "default": {},
                        "description": "The object to emit",
                    },
                    "merge_input": {
                        "type": "boolean",
                        "default": False,
                        "description": "Emit the incoming object with these values over it",
                    },
                },
            ),
            builtin=True,
            run=run_set,
        ),
        NodeType(
            id="node_transform",
            name="Transform",
            description="Builds an object from a mapping of keys to templates or values; "
            "'$input.path' values copy typed data from the input.",
            category="data",
            version="1.0.0",
            inputs=[passthrough],
            outputs=[out],
            config_schema=object_schema(
                {
                    "mapping": {
                        "type": "object",
                        "description": "Output key -> template, value, or '$input.path' lookup",
                    },
                    "keep_input": {
                        "type": "boolean",
                        "default": False,
                        "description": "Start from the incoming object instead of {}",
                    },
                },
                required=("mapping",),
            ),
            builtin=True,
            run=run_transform,
        ),
        NodeType(
            id="node_merge",
            name="Merge",
            description="Joins branches: whatever arrived on input_1..input_4, as an object "
            "keyed by port, a list, a merged object, or the first value.",
            category="data",
            version="1.0.0",
            inputs=[Port(p, "any", False, f"Branch {p[-1]}") for p in MERGE_PORTS],
            outputs=[Port("output", "any", description="The merged value")],
            config_schema=object_schema(
                {"mode": {"type": "string", "enum": list(MERGE_MODES), "default": "object"}}
            ),
            builtin=True,
            run=run_merge,
        ),
    ]
