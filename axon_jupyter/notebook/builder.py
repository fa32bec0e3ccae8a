"""`axon.Workflow`: building workflow definitions in Python, and reading them from YAML.

    wf = axon.Workflow("etl")
    fetch = wf.add("node_http_request", url="https://example.org/data.json")
    fetch >> wf.add("shout")            # output port -> input port
    cond = wf.add("node_condition", expression="{{ input.ok }}")
    cond["true"] >> wf.add("node_log")  # a named port
    wf.save(); wf.run()

Both the builder and `%%axon workflow` (YAML or JSON) end in `normalize_definition`, so
the same workflow written either way is the same definition JSON: nodes in order with
`id`, `type`, optional `version`, `position` (from the DAG layout when absent) and
`config`; connections with both ports spelled out. A port left out is the node type's
only output (input) when the catalog says it has exactly one, else `output` (`input`).
Saving goes through the SDK, by name: saving `etl` again updates the same workflow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .errors import AxonNotebookError, WorkflowInvalid, invalid_workflow

NODE_FIELDS = ("id", "type", "version", "position", "config", "retry", "timeout_s", "name")
OPTIONAL_NODE_FIELDS = ("retry", "timeout_s", "name", "disabled")
_ARROW = re.compile(r"^\s*([^\s.>-][^\s>]*?)(?:\.(\w+))?\s*->\s*([^\s.]+?)(?:\.(\w+))?\s*$")

Catalog = Mapping[str, Any]  # node type id -> axonos.NodeType (ports are what matters)


# ---------------------------------------------------------------- ports and catalog
def _port_names(node_type: Any, side: str) -> list[str]:
    ports = getattr(node_type, side, None) or []
    return [getattr(p, "name", None) or p.get("name") for p in ports]


def default_port(catalog: Catalog | None, type_id: str | None, side: str) -> str:
    """The port a connection uses when it names none (side: "outputs" or "inputs")."""
    fallback = "output" if side == "outputs" else "input"
    node_type = (catalog or {}).get(type_id or "")
    if node_type is None:
        return fallback
    names = _port_names(node_type, side)
    if len(names) == 1 or (names and fallback not in names):
        return names[0]
    return fallback


def fetch_catalog(client: Any) -> dict[str, Any]:
    """Every node type this client may use, by id (one request)."""
    return {n.id: n for n in client.nodes.list()}


# ---------------------------------------------------------------- normalization
def _parse_arrow(text: str, where: str) -> dict[str, Any]:
    match = _ARROW.match(text)
    if not match:
        raise WorkflowInvalid(
            f"{where}: {text!r} is not a connection; write 'a -> b' or 'a.port -> b.port'",
            {"field": where},
        )
    src, sport, dst, tport = match.groups()
    out: dict[str, Any] = {"from": src, "to": dst}
    if sport:
        out["sourcePort"] = sport
    if tport:
        out["targetPort"] = tport
    return out


def _nodes_list(raw: Any) -> list[Any]:
    if raw is None:
        return []
    if isinstance(raw, Mapping):  # YAML shorthand: {id: {type: ..., config: ...}}
        out = []
        for node_id, body in raw.items():
            body = dict(body) if isinstance(body, Mapping) else {"type": body}
            out.append({"id": node_id, **body})
        return out
    if isinstance(raw, list):
        return raw
    raise WorkflowInvalid("nodes must be a list (or a mapping of id -> node)", {"field": "nodes"})


def normalize_definition(raw: Mapping[str, Any], catalog: Catalog | None = None) -> dict[str, Any]:
    """The canonical definition JSON (see module docstring). Raises WorkflowInvalid for
    shapes no server would read; everything else is left for the server to judge."""
    from .widgets.dag import positions

    if not isinstance(raw, Mapping):
        raise WorkflowInvalid("a workflow definition is a mapping with nodes and connections")
    nodes: list[dict[str, Any]] = []
    types: dict[str, str] = {}
    for i, node in enumerate(_nodes_list(raw.get("nodes"))):
        if not isinstance(node, Mapping):
            raise WorkflowInvalid(f"nodes[{i}] must be a mapping", {"field": f"nodes[{i}]"})
        if not node.get("id") or not node.get("type"):
            raise WorkflowInvalid(
                f"nodes[{i}] needs an id and a type",
                {"field": f"nodes[{i}]", "node": node.get("id")},
            )
        out: dict[str, Any] = {"id": str(node["id"]), "type": str(node["type"])}
        if node.get("version") is not None:
            out["version"] = str(node["version"])
        if node.get("position") is not None:
            out["position"] = dict(node["position"])
        out["config"] = dict(node.get("config") or {})
        for key in OPTIONAL_NODE_FIELDS:
            if node.get(key) is not None:
                out[key] = node[key]
        extra = set(node) - set(NODE_FIELDS) - set(OPTIONAL_NODE_FIELDS)
        for key in sorted(extra):  # unknown fields travel on; the server names them
            out[key] = node[key]
        nodes.append(out)
        types[out["id"]] = out["type"]
    connections: list[dict[str, Any]] = []
    raw_conns = raw.get("connections") or []
    if not isinstance(raw_conns, list):
        raise WorkflowInvalid("connections must be a list", {"field": "connections"})
    for i, conn in enumerate(raw_conns):
        where = f"connections[{i}]"
        if isinstance(conn, str):
            conn = _parse_arrow(conn, where)
        if not isinstance(conn, Mapping) or not conn.get("from") or not conn.get("to"):
            raise WorkflowInvalid(f"{where} needs from and to", {"field": where})
        src, dst = str(conn["from"]), str(conn["to"])
        connections.append(
            {
                "from": src,
                "to": dst,
                "sourcePort": conn.get("sourcePort")
                or default_port(catalog, types.get(src), "outputs"),
                "targetPort": conn.get("targetPort")
                or default_port(catalog, types.get(dst), "inputs"),
            }
        )
    definition = {"nodes": nodes, "connections": connections}
    laid_out = positions(definition)
    for node in nodes:
        node.setdefault("position", laid_out[node["id"]])
        # Field order as documented: id, type, version, position, config, rest.
        ordered = {k: node[k] for k in ("id", "type", "version", "position", "config") if k in node}
        ordered.update({k: v for k, v in node.items() if k not in ordered})
        node.clear()
        node.update(ordered)
    return definition


def parse_definition_text(text: str) -> dict[str, Any]:
    """A cell body as a mapping: JSON when it looks like JSON, else YAML."""
    import yaml

    stripped = text.strip()
    if not stripped:
        raise WorkflowInvalid("the cell is empty: give the workflow's nodes and connections")
    try:
        data = json.loads(stripped) if stripped.startswith("{") else yaml.safe_load(stripped)
    except json.JSONDecodeError as exc:
        raise WorkflowInvalid(f"not valid JSON: {exc.msg} (line {exc.lineno})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise WorkflowInvalid(f"not valid YAML: {problem}{where}") from None
    if not isinstance(data, Mapping):
        raise WorkflowInvalid("the cell must hold a mapping with nodes and connections")
    return dict(data)


# ---------------------------------------------------------------- resolving workflows
def resolve_workflow(client: Any, ref: str) -> Any:
    """A workflow (with its definition) by id, or else by exact name."""
    from axonos import NotFoundError

    if ref.startswith("wf_"):
        try:
            return client.workflows.get(ref)
        except NotFoundError:
            pass
    matches = [w for w in client.workflows.iter(search=ref) if w.name == ref]
    if not matches:
        raise AxonNotebookError(f"no workflow named or numbered {ref!r} (see %axon list)")
    newest = max(matches, key=lambda w: (w.updated_at is not None, w.updated_at))
    return client.workflows.get(newest.id)


def save_definition(
    client: Any,
    name: str,
    definition: Mapping[str, Any],
    *,
    description: str | None = None,
    status: str | None = None,
    workflow_id: str | None = None,
) -> Any:
    """Create the workflow, or update the one with this id or name; validation errors
    come back as WorkflowInvalid naming the node and field."""
    from axonos import ValidationError

    try:
        if workflow_id is None:
            existing = [w for w in client.workflows.iter(search=name) if w.name == name]
            workflow_id = existing[0].id if existing else None
        if workflow_id is None:
            return client.workflows.create(
                name=name, description=description, definition=definition, status=status
            )
        return client.workflows.update(
            workflow_id, name=name, description=description, definition=definition, status=status
        )
    except ValidationError as exc:
        raise invalid_workflow(name, exc, definition) from None


# ---------------------------------------------------------------- the builder
class PortRef:
    """`node["port"]`: one port of a node, for `>>`."""

    def __init__(self, node: NodeRef, port: str) -> None:
        self.node, self.port = node, port

    def __rshift__(self, other: Any) -> Any:
        return self.node.workflow._link(self.node, self.port, other)

    def __repr__(self) -> str:
        return f"<port {self.node.id}.{self.port}>"


class NodeRef:
    """A node in a `Workflow` being built; `a >> b` connects a's output to b's input."""

    def __init__(self, workflow: Workflow, node_id: str) -> None:
        self.workflow, self.id = workflow, node_id

    def __getitem__(self, port: str) -> PortRef:
        return PortRef(self, port)

    def __rshift__(self, other: Any) -> Any:
        return self.workflow._link(self, None, other)

    def __rrshift__(self, other: Any) -> Any:  # [a, b] >> c
        if isinstance(other, list | tuple):
            for item in other:
                item >> self
            return self
        return NotImplemented

    @property
    def config(self) -> dict[str, Any]:
        return self.workflow._nodes[self.id]["config"]

    def __repr__(self) -> str:
        return f"<node {self.id}: {self.workflow._nodes[self.id]['type']}>"


class Workflow:
    """A workflow definition under construction; `save()` and `run()` go through the SDK."""

    def __init__(
        self,
        name: str,
        description: str | None = None,
        *,
        status: str | None = None,
        connection: Any = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise AxonNotebookError("a workflow needs a name: axon.Workflow('etl')")
        self.name = name
        self.description = description
        self.status = status
        self.id: str | None = None
        self._connection = connection
        self._nodes: dict[str, dict[str, Any]] = {}
        self._connections: list[dict[str, Any]] = []

    # ------------------------------------------------------------ building
    def add(
        self,
        type: str,
        id: str | None = None,
        *,
        version: str | None = None,
        config: Mapping[str, Any] | None = None,
        retry: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
        **fields: Any,
    ) -> NodeRef:
        """Add a node of `type`; keyword arguments are its config (`url=...`)."""
        node_id = id or self._fresh_id(type)
        if node_id in self._nodes:
            raise AxonNotebookError(f"node id {node_id!r} is already used in {self.name!r}")
        node: dict[str, Any] = {"id": node_id, "type": type, "config": {**(config or {}), **fields}}
        if version is not None:
            node["version"] = version
        if retry is not None:
            node["retry"] = dict(retry)
        if timeout_s is not None:
            node["timeout_s"] = timeout_s
        self._nodes[node_id] = node
        return NodeRef(self, node_id)

    def _fresh_id(self, type: str) -> str:
        base = type.removeprefix("node_") or "node"
        candidate, n = base, 1
        while candidate in self._nodes:
            n += 1
            candidate = f"{base}_{n}"
        return candidate

    def node(self, node_id: str) -> NodeRef:
        if node_id not in self._nodes:
            raise AxonNotebookError(f"{self.name!r} has no node {node_id!r}")
        return NodeRef(self, node_id)

    def connect(
        self,
        source: NodeRef | str,
        target: NodeRef | str,
        *,
        source_port: str | None = None,
        target_port: str | None = None,
    ) -> None:
        src = source.id if isinstance(source, NodeRef) else source
        dst = target.id if isinstance(target, NodeRef) else target
        for end in (src, dst):
            self.node(end)
        conn: dict[str, Any] = {"from": src, "to": dst}
        if source_port:
            conn["sourcePort"] = source_port
        if target_port:
            conn["targetPort"] = target_port
        self._connections.append(conn)

    def _link(self, source: NodeRef, port: str | None, other: Any) -> Any:
        if isinstance(other, list | tuple):
            for item in other:
                self._link(source, port, item)
            return other
        if isinstance(other, PortRef):
            self.connect(source, other.node, source_port=port, target_port=other.port)
            return other.node
        if isinstance(other, NodeRef):
            self.connect(source, other, source_port=port)
            return other
        return NotImplemented

    # ------------------------------------------------------------ the definition
    def raw_definition(self) -> dict[str, Any]:
        return {
            "nodes": [dict(n) for n in self._nodes.values()],
            "connections": [dict(c) for c in self._connections],
        }

    def definition(self, catalog: Catalog | None = None) -> dict[str, Any]:
        """The definition JSON; pass the catalog (`fetch_catalog(client)`) to fill in the
        ports of node types whose single port is not called output/input."""
        return normalize_definition(self.raw_definition(), catalog)

    @classmethod
    def from_definition(
        cls, name: str, definition: Mapping[str, Any], description: str | None = None
    ) -> Workflow:
        wf = cls(name, description)
        for node in _nodes_list(definition.get("nodes")):
            node = dict(node)
            wf._nodes[str(node["id"])] = {**node, "config": dict(node.get("config") or {})}
        for i, conn in enumerate(definition.get("connections") or []):
            wf._connections.append(
                _parse_arrow(conn, f"connections[{i}]") if isinstance(conn, str) else dict(conn)
            )
        return wf

    @classmethod
    def from_yaml(cls, name: str, text: str) -> Workflow:
        data = parse_definition_text(text)
        body = data.get("definition", data)
        return cls.from_definition(name, body, data.get("description"))

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.raw_definition(), sort_keys=False)

    # ------------------------------------------------------------ server
    @property
    def connection(self) -> Any:
        if self._connection is None:
            from .connection import current

            self._connection = current()
        return self._connection

    def save(self) -> Any:
        """Create or update (same name) the workflow on the server; returns it."""
        client = self.connection.client
        definition = self.definition(fetch_catalog(client))
        saved = save_definition(
            client,
            self.name,
            definition,
            description=self.description,
            status=self.status,
            workflow_id=self.id,
        )
        self.id = saved.id
        return saved

    def run(
        self,
        input: Mapping[str, Any] | None = None,
        *,
        wait: bool = True,
        monitor: bool = True,
    ) -> Any:
        """Save, execute, and show an ExecutionMonitor; returns the execution."""
        from .runs import run_workflow

        self.save()
        assert self.id is not None
        return run_workflow(
            self.id, input=input, wait=wait, monitor=monitor, connection=self.connection
        )

    def _repr_html_(self) -> str:
        from .widgets.dag import render_svg

        return render_svg(self.definition(), title=self.name)

    def __repr__(self) -> str:
        return (
            f"<Workflow {self.name!r}: {len(self._nodes)} nodes, "
            f"{len(self._connections)} connections>"
        )
