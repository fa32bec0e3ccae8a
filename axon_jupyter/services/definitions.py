"""Structural validation of a workflow definition (the DAG of nodes and connections).

Checks what needs no node catalog: shapes, unique ids, connections between existing
nodes, no cycles, numeric positions. The catalog (node types, ports, config schemas)
adds its own checks through `DefinitionChecker`. Returns a normalised copy with
defaults filled in, so stored definitions all have the same shape.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from graphlib import CycleError, TopologicalSorter
from typing import Any

from ..errors import ValidationError

# The node catalog's check: (user_id, normalised definition), raising ValidationError.
DefinitionChecker = Callable[[str, dict[str, Any]], Awaitable[Any]]

MAX_NODES = 20_000
_NODE_KEYS = {
    "id",
    "type",
    "version",
    "name",
    "position",
    "config",
    "retry",
    "timeout_s",
    "disabled",
}
_CONN_KEYS = {"from", "to", "sourcePort", "targetPort"}


def _fail(field: str, issue: str, node: str | None = None) -> ValidationError:
    details: dict[str, Any] = {"field": field, "issue": issue}
    if node is not None:
        details["node"] = node
    prefix = f"Node {node!r}: " if node is not None else ""
    return ValidationError(f"Invalid workflow definition: {prefix}{field} {issue}", details)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _node(raw: Any, index: int) -> dict[str, Any]:
    where = f"definition.nodes[{index}]"
    if not isinstance(raw, dict):
        raise _fail(where, "must be an object")
    node_id = raw.get("id")
    if not isinstance(node_id, str) or not node_id or len(node_id) > 200:
        raise _fail(f"{where}.id", "must be a non-empty string of at most 200 characters")
    unknown = sorted(set(raw) - _NODE_KEYS)
    if unknown:
        raise _fail(f"{where}.{unknown[0]}", "is not a known node field", node_id)
    node_type = raw.get("type")
    if not isinstance(node_type, str) or not node_type:
        raise _fail(f"{where}.type", "must be a non-empty string", node_id)
    out: dict[str, Any] = {"id": node_id, "type": node_type}
    if "name" in raw:
        if not isinstance(raw["name"], str):
            raise _fail(f"{where}.name", "must be a string", node_id)
        out["name"] = raw["name"]
    if raw.get("version") is not None:
        if not isinstance(raw["version"], str) or not raw["version"]:
            raise _fail(f"{where}.version", "must be a version string", node_id)
        out["version"] = raw["version"]
    position = raw.get("position", {"x": 0, "y": 0})
    if not isinstance(position, dict) or set(position) - {"x", "y"}:
        raise _fail(f"{where}.position", "must be an object with x and y", node_id)
    for axis in ("x", "y"):
        if not _number(position.get(axis, 0)):
            raise _fail(f"{where}.position.{axis}", "must be a finite number", node_id)
    out["position"] = {"x": position.get("x", 0), "y": position.get("y", 0)}
    config = raw.get("config", {})
    if not isinstance(config, dict):
        raise _fail(f"{where}.config", "must be an object", node_id)
    out["config"] = config
    if raw.get("retry") is not None:
        retry = raw["retry"]
        if not isinstance(retry, dict) or set(retry) - {"max_attempts", "backoff_s"}:
            raise _fail(f"{where}.retry", "must be {max_attempts, backoff_s}", node_id)
        attempts = retry.get("max_attempts", 1)
        if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 100:
            raise _fail(f"{where}.retry.max_attempts", "must be an integer from 1 to 100", node_id)
        backoff = retry.get("backoff_s", 0)
        if not _number(backoff) or not 0 <= backoff <= 3600:
            raise _fail(f"{where}.retry.backoff_s", "must be a number from 0 to 3600", node_id)
        out["retry"] = {"max_attempts": attempts, "backoff_s": backoff}
    if raw.get("timeout_s") is not None:
        if not _number(raw["timeout_s"]) or not 0 < raw["timeout_s"] <= 86400:
            raise _fail(f"{where}.timeout_s", "must be a number of seconds in (0, 86400]", node_id)
        out["timeout_s"] = raw["timeout_s"]
    if raw.get("disabled") is not None:
        if not isinstance(raw["disabled"], bool):
            raise _fail(f"{where}.disabled", "must be a boolean", node_id)
        out["disabled"] = raw["disabled"]
    return out


def _connection(raw: Any, index: int, ids: set[str]) -> dict[str, Any]:
    where = f"definition.connections[{index}]"
    if not isinstance(raw, dict):
        raise _fail(where, "must be an object")
    unknown = sorted(set(raw) - _CONN_KEYS)
    if unknown:
        raise _fail(f"{where}.{unknown[0]}", "is not a known connection field")
    out: dict[str, Any] = {}
    for key, default in (
        ("from", None),
        ("to", None),
        ("sourcePort", "output"),
        ("targetPort", "input"),
    ):
        value = raw.get(key, default)
        if not isinstance(value, str) or not value:
            raise _fail(f"{where}.{key}", "must be a non-empty string")
        out[key] = value
    for end in ("from", "to"):
        if out[end] not in ids:
            raise _fail(f"{where}.{end}", f"names missing node {out[end]!r}", out[end])
    if out["from"] == out["to"]:
        raise _fail(where, "connects a node to itself", out["from"])
    return out


def normalize_definition(raw: Any) -> dict[str, Any]:
    """Validate the structure and return the normalised definition (raises 400)."""
    if raw is None:
        raw = {"nodes": [], "connections": []}
    if not isinstance(raw, dict):
        raise _fail("definition", "must be an object with nodes and connections")
    unknown = sorted(set(raw) - {"nodes", "connections"})
    if unknown:
        raise _fail(f"definition.{unknown[0]}", "is not a known field")
    nodes_raw = raw.get("nodes", [])
    conns_raw = raw.get("connections", [])
    if not isinstance(nodes_raw, list):
        raise _fail("definition.nodes", "must be a list")
    if not isinstance(conns_raw, list):
        raise _fail("definition.connections", "must be a list")
    if len(nodes_raw) > MAX_NODES:
        raise _fail("definition.nodes", f"must hold at most {MAX_NODES} nodes")
    nodes, ids = [], set()
    for i, item in enumerate(nodes_raw):
        node = _node(item, i)
        if node["id"] in ids:
            raise _fail(f"definition.nodes[{i}].id", "is not unique", node["id"])
        ids.add(node["id"])
        nodes.append(node)
    connections, seen = [], set()
    for i, item in enumerate(conns_raw):
        conn = _connection(item, i, ids)
        key = (conn["from"], conn["sourcePort"], conn["to"], conn["targetPort"])
        if key in seen:
            raise _fail(
                f"definition.connections[{i}]", "duplicates an earlier connection", conn["to"]
            )
        seen.add(key)
        connections.append(conn)
    sorter: TopologicalSorter[str] = TopologicalSorter({n["id"]: () for n in nodes})
    for conn in connections:
        sorter.add(conn["to"], conn["from"])
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle = list(dict.fromkeys(exc.args[1]))
        raise ValidationError(
            "Invalid workflow definition: connections form a cycle",
            {"field": "definition.connections", "issue": "cycle", "node": cycle[0], "cycle": cycle},
        ) from exc
    return {"nodes": nodes, "connections": connections}
