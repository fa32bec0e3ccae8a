"""Planning: a frozen definition snapshot plus resolved node types -> a runnable DAG.

Everything that can be decided once per execution is decided here, so the per-node hot
path does no parsing: predecessors, incoming connections by port, sinks, which configs
hold templates (and that they compile), retry/timeout settings. A plan is immutable and
safe to share between the run and its retries' planning. Must never import tornado or
anything from api/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any

from ..errors import ValidationError
from ..nodes.types import NodeType
from .templates import ConfigTemplateError, check_template, is_template


@dataclass(slots=True, eq=False)
class PlannedNode:
    id: str
    type: NodeType
    config: dict[str, Any]
    templated: bool
    raw_keys: tuple[str, ...]
    max_attempts: int
    backoff_s: float
    timeout_s: float | None
    disabled: bool
    # (source node, source port, target port) in definition order
    incoming: list[tuple[str, str, str]] = field(default_factory=list)
    predecessors: set[str] = field(default_factory=set)
    successors: set[str] = field(default_factory=set)
    output_ports: frozenset[str] = frozenset()
    single_output: str | None = None


@dataclass(slots=True, eq=False)
class Plan:
    nodes: dict[str, PlannedNode]
    order: list[str]  # definition order, for stable records and outputs
    sinks: list[str]
    versions: dict[str, str] = field(default_factory=dict)  # node id -> NodeType.ref
    # For PlanSorter: unfinished-predecessor counts, successors in connection order,
    # and the nodes ready at the start.
    indegree: dict[str, int] = field(default_factory=dict)
    next_nodes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    roots: tuple[str, ...] = ()

    def graph(self) -> dict[str, set[str]]:
        return {nid: node.predecessors for nid, node in self.nodes.items()}

    def sorter(self) -> PlanSorter:
        return PlanSorter(self)

    def descendants(self, start: str) -> set[str]:
        seen, stack = {start}, [start]
        while stack:
            for nxt in self.nodes[stack.pop()].successors:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen


class PlanSorter:
    """graphlib.TopologicalSorter's run protocol (`get_ready`, `done`, `is_active`) for
    one run of a plan.

    graphlib is the planner: `build_plan` has it prove the graph acyclic and
    `reusable_nodes` walks its static order. A run then needs only the protocol, and
    graphlib would rebuild, per run, a tracked `_NodeInfo` and a list for every node
    and search the whole graph for cycles again: for a 10k-node DAG that is 20k
    long-lived objects a run, which is what makes the garbage collector's full passes
    (and a big run's cost) grow faster than the DAG. Here a run costs one dict of
    counters (ints: nothing for the collector to walk) over the plan's shared tuples.
    """

    __slots__ = ("_next", "_pending", "_ready", "_remaining")

    def __init__(self, plan: Plan):
        self._remaining = dict(plan.indegree)
        self._next = plan.next_nodes
        self._ready = list(plan.roots)
        self._pending = len(plan.indegree)

    def get_ready(self) -> tuple[str, ...]:
        ready = tuple(self._ready)
        self._ready.clear()
        return ready

    def done(self, node: str) -> None:
        self._pending -= 1
        remaining = self._remaining
        for nxt in self._next[node]:
            left = remaining[nxt] - 1
            remaining[nxt] = left
            if not left:
                self._ready.append(nxt)

    def is_active(self) -> bool:
        return self._pending > 0


def _check_templates(value: Any, field: str, node_id: str) -> None:
    if isinstance(value, str):
        if "{{" in value or "{%" in value:
            try:
                check_template(value, field)
            except ConfigTemplateError as exc:
                raise ValidationError(
                    f"Invalid workflow definition: Node {node_id!r}: config.{field} "
                    f"has a template error: {exc.reason}",
                    {"field": f"config.{field}", "issue": exc.reason, "node": node_id},
                ) from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_templates(v, f"{field}.{k}", node_id)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_templates(v, f"{field}[{i}]", node_id)


def build_plan(definition: dict[str, Any], types: dict[str, NodeType]) -> Plan:
    """Plan a normalised definition (services/definitions.py) with its resolved types."""
    nodes: dict[str, PlannedNode] = {}
    order: list[str] = []
    for spec in definition.get("nodes", []):
        nid = spec["id"]
        node_type = types[nid]
        config = spec.get("config") or {}
        raw_keys = tuple(node_type.extra.get("raw_config", ()))
        templated = any(is_template(v) for k, v in config.items() if k not in raw_keys)
        if templated:
            for key, value in config.items():
                if key not in raw_keys:
                    _check_templates(value, key, nid)
        retry = spec.get("retry") or {}
        outputs = [p.name for p in node_type.outputs]
        nodes[nid] = PlannedNode(
            id=nid,
            type=node_type,
            config=config,
            templated=templated,
            raw_keys=raw_keys,
            max_attempts=int(retry.get("max_attempts", 1)),
            backoff_s=float(retry.get("backoff_s", 0)),
            timeout_s=spec.get("timeout_s"),
            disabled=bool(spec.get("disabled", False)),
            output_ports=frozenset(outputs),
            single_output=outputs[0] if len(outputs) == 1 else None,
        )
        order.append(nid)
    for conn in definition.get("connections", []):
        src, dst = conn["from"], conn["to"]
        nodes[dst].incoming.append((src, conn["sourcePort"], conn["targetPort"]))
        nodes[dst].predecessors.add(src)
        nodes[src].successors.add(dst)
    sinks = [nid for nid in order if not nodes[nid].successors]
    versions = {nid: nodes[nid].type.ref for nid in order}
    nexts: dict[str, dict[str, None]] = {nid: {} for nid in order}
    for conn in definition.get("connections", []):
        nexts[conn["from"]][conn["to"]] = None
    plan = Plan(
        nodes=nodes,
        order=order,
        sinks=sinks,
        versions=versions,
        indegree={nid: len(nodes[nid].predecessors) for nid in order},
        next_nodes={nid: tuple(targets) for nid, targets in nexts.items()},
        roots=tuple(nid for nid in order if not nodes[nid].predecessors),
    )
    try:
        TopologicalSorter(plan.graph()).prepare()
    except CycleError as exc:  # normalize_definition refuses cycles; this is the backstop
        raise ValidationError(
            "Invalid workflow definition: connections form a cycle",
            {"field": "definition.connections", "issue": "cycle", "cycle": exc.args[1]},
        ) from None
    return plan


def reusable_nodes(
    plan: Plan, previous: dict[str, Any], previous_definition: dict[str, Any], rerun: set[str]
) -> set[str]:
    """Nodes of `plan` whose stored outputs a retry may reuse instead of running them.

    A node is reused when it succeeded before, is not asked to re-run, is defined exactly
    as it was (type, version, config, retry, timeout, incoming connections), and every
    node upstream of it is reused too: an output computed from different inputs is
    never passed off as current. `previous` maps node id -> ExecutionNode.
    """
    old_specs = {n["id"]: n for n in previous_definition.get("nodes", [])}
    old_incoming: dict[str, list[tuple[str, str, str]]] = {}
    for conn in previous_definition.get("connections", []):
        old_incoming.setdefault(conn["to"], []).append(
            (conn["from"], conn["sourcePort"], conn["targetPort"])
        )
    reused: set[str] = set()
    # Walk in topological order so a node's predecessors are decided first.
    for nid in TopologicalSorter(plan.graph()).static_order():
        node = plan.nodes[nid]
        record = previous.get(nid)
        old = old_specs.get(nid)
        if (
            nid in rerun
            or record is None
            or record.status != "succeeded"
            or old is None
            or not all(p in reused for p in node.predecessors)
        ):
            continue
        same = (
            old.get("type") == node.type.id
            and (record.node_version is None or record.node_version == node.type.version)
            and (old.get("config") or {}) == node.config
            and _retry_of(old) == (node.max_attempts, node.backoff_s)
            and old.get("timeout_s") == node.timeout_s
            and bool(old.get("disabled", False)) == node.disabled
            and sorted(old_incoming.get(nid, [])) == sorted(node.incoming)
        )
        if same:
            reused.add(nid)
    return reused


def _retry_of(spec: dict[str, Any]) -> tuple[int, float]:
    retry = spec.get("retry") or {}
    return int(retry.get("max_attempts", 1)), float(retry.get("backoff_s", 0))
