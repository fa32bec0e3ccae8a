"""Data nodes: node_set (constants), node_transform (mapping), node_merge (join branches).

Templates in config strings are rendered by the engine before `run` is called (a string
that is exactly one `{{ expression }}` keeps its native type), so these nodes only
shape what they are given. node_transform reads dotted keys as paths: a mapping key
`user.name` builds {"user": {"name": ...}}.
"""

from __future__ import annotations

from typing import Any

from ..types import NodeContext, NodeError, NodeType, Port
from ._common import NodeSettings, as_bool, object_schema

MERGE_PORTS = ("input_1", "input_2", "input_3", "input_4")
MERGE_MODES = ("object", "list", "merge", "first")


def expand(mapping: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """`{"a.b": 1, "c": 2}` -> `{"a": {"b": 1}, "c": 2}`, written over a copy of `base`."""
    out: dict[str, Any] = dict(base or {})
    for key, value in mapping.items():
        parts = key.split(".") if "." in key.strip(".") else [key]
        target = out
        for part in parts[:-1]:
            child = target.get(part)
            # A copy: the upstream node's output must never change under it.
            child = dict(child) if isinstance(child, dict) else {}
            target[part] = child
            target = child
        target[parts[-1]] = value
    return out


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
    mapping = config.get("mapping") or {}
    if not isinstance(mapping, dict):
        raise NodeError("config mapping must be an object")
    source = inputs.get("input")
    keep = as_bool(config.get("keep_input"), "keep_input", default=False)
    return {"output": expand(mapping, source if keep and isinstance(source, dict) else None)}


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
            description="Builds an object from a mapping of keys to templates or values "
            "(e.g. {{ inputs.input.items }}); dotted keys like user.name build nested objects.",
            category="data",
            version="1.0.0",
            inputs=[passthrough],
            outputs=[out],
            config_schema=object_schema(
                {
                    "mapping": {
                        "type": "object",
                        "description": "Output key (dots nest) -> template or value",
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
