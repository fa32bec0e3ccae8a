"""`WorkflowBuilder`: assemble a workflow from the node catalog in a widget, then save and run.

A composite of core ipywidgets (no custom JavaScript). The draft definition is one
trait (`definition`); every control edits it and `@observe` redraws the DAG and re-runs
the local checks, so the picture and the problem list follow each click. The checks
here are the quick ones a form can make (known types and ports, required config and
inputs, types of simple fields, cycles); the server's validation on Save is the
authority and its answer is shown as one readable line naming node and field.

Config forms come from each node type's JSON Schema: Dropdown for enums, Checkbox for
booleans, IntText/FloatText for numbers, Textarea (JSON) for objects and arrays, Text
for strings (Textarea for code). A field the user never touched is left out of the
config, so the node's defaults apply. Everything talks to the server through the SDK.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
from traitlets import Dict, Int, List, Unicode, observe

from ..builder import fetch_catalog, normalize_definition, resolve_workflow, save_definition
from ..errors import AxonNotebookError, describe
from .dag import render_svg

JSON_TYPES = {"object": dict, "array": list}
SIMPLE_TYPES = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "array": list,
}


def _ports(node_type: Any, side: str) -> list[str]:
    return [p.name for p in (getattr(node_type, side, None) or [])]


def _type_matches(value: Any, kind: Any) -> bool:
    kinds = kind if isinstance(kind, list) else [kind]
    for k in kinds:
        if k == "null" and value is None:
            return True
        py = SIMPLE_TYPES.get(k)
        if py is None:
            return True
        if isinstance(value, bool) and k in ("integer", "number"):
            continue
        if isinstance(value, py):
            return True
    return False


def _single_type(kind: Any) -> str | None:
    """The one JSON type a field holds (a nullable one counts), or None when several."""
    if isinstance(kind, list):
        types = [k for k in kind if k != "null"]
        return types[0] if len(types) == 1 else None
    return kind


class ConfigField:
    """One config key's widget and how to read it back."""

    def __init__(self, key: str, schema: Mapping[str, Any], value: Any, required: bool) -> None:
        self.key = key
        self.schema = schema
        self.required = required
        self.present = value is not None
        self.touched = False
        self.error: str | None = None
        kind = self.kind = _single_type(schema.get("type"))
        default = schema.get("default")
        shown = value if value is not None else default
        label = f"{key}{' *' if required else ''}"
        tip = str(schema.get("description") or "")
        style = {"description_width": "120px"}
        layout = widgets.Layout(width="95%")
        if "enum" in schema:
            options = list(schema["enum"])
            self.widget: widgets.Widget = widgets.Dropdown(
                options=options,
                value=shown if shown in options else (options[0] if options else None),
                description=label,
                tooltip=tip,
                style=style,
                layout=layout,
            )
        elif kind == "boolean":
            self.widget = widgets.Checkbox(
                value=bool(shown), description=label, tooltip=tip, indent=False
            )
        elif kind == "integer":
            self.widget = widgets.IntText(
                value=int(shown or 0),
                description=label,
                tooltip=tip,
                style=style,
                layout=layout,
            )
        elif kind == "number":
            self.widget = widgets.FloatText(
                value=float(shown or 0),
                description=label,
                tooltip=tip,
                style=style,
                layout=layout,
            )
        elif kind in JSON_TYPES:
            self.widget = widgets.Textarea(
                value="" if shown is None else json.dumps(shown, indent=1),
                description=label,
                tooltip=tip,
                placeholder=f"JSON {kind}",
                style=style,
                layout=widgets.Layout(width="95%", height="5em"),
            )
        elif kind == "string" and key in ("code", "body", "message", "expression"):
            self.widget = widgets.Textarea(
                value="" if shown is None else str(shown),
                description=label,
                tooltip=tip,
                style=style,
                layout=widgets.Layout(width="95%", height="6em" if key == "code" else "3em"),
            )
        else:  # strings, and fields of several types (read as JSON when they are JSON)
            self.widget = widgets.Text(
                value=""
                if shown is None
                else (shown if isinstance(shown, str) else json.dumps(shown)),
                description=label,
                tooltip=tip,
                style=style,
                layout=layout,
            )
        self.widget.observe(self._touch, names="value")

    def _touch(self, _change: Any) -> None:
        self.touched = True

    @property
    def included(self) -> bool:
        return self.present or self.touched

    def read(self) -> Any:
        """The value for the config (raises ValueError with a readable reason)."""
        value = self.widget.value
        kind = self.kind
        if isinstance(self.widget, widgets.Textarea) and kind in JSON_TYPES:
            if not value.strip():
                return None
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"is not valid JSON ({exc.msg})") from None
            if not isinstance(parsed, JSON_TYPES[kind]):
                raise ValueError(f"must be a JSON {kind}")
            return parsed
        if (
            isinstance(self.widget, widgets.Text)
            and kind != "string"
            and not isinstance(self.widget, widgets.Textarea)
        ):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return value if value != "" else None
        if isinstance(value, str) and value == "" and not self.required:
            return None
        return value


class WorkflowBuilder(widgets.VBox):
    """Pick node types, configure them, connect ports, see the DAG, save and run."""

    name = Unicode("untitled", help="The workflow's name (saving again updates it).")
    description = Unicode("", help="The workflow's description.")
    workflow_id = Unicode(None, allow_none=True, help="Set once saved (or when editing).")
    saved_version = Int(None, allow_none=True, help="The revision number last saved.")
    definition = Dict(help="The draft: {nodes: [...], connections: [...]}.")
    problems = List(Unicode(), help="What the local checks found, one line each.")
    selected_node = Unicode(None, allow_none=True, help="The node whose config is shown.")

    def __init__(
        self,
        workflow: str | None = None,
        *,
        name: str | None = None,
        connection: Any = None,
        **kwargs: Any,
    ) -> None:
        from ..connection import current

        self.connection = connection or current()
        self.catalog: dict[str, Any] = fetch_catalog(self.connection.client)
        self.monitor: Any = None
        self._fields: list[ConfigField] = []
        self._build_controls()
        kwargs.setdefault("layout", widgets.Layout(border="1px solid #d1d5db", padding="6px"))
        super().__init__(children=self._layout(), **kwargs)
        self.add_class("axon-workflow-builder")
        self.definition = {"nodes": [], "connections": []}
        if workflow is not None:
            self.load(workflow)
        elif name:
            self.name = name
        self._refresh_catalog()
        self._on_definition()

    # ------------------------------------------------------------ controls
    def _build_controls(self) -> None:
        w = widgets
        self.name_text = w.Text(description="Name", value="untitled")
        self.description_text = w.Text(description="Description", layout=w.Layout(width="50%"))
        self.name_text.observe(lambda c: setattr(self, "name", c["new"]), names="value")
        self.description_text.observe(
            lambda c: setattr(self, "description", c["new"]), names="value"
        )

        categories = sorted({n.category or "custom" for n in self.catalog.values()})
        self.search = w.Text(placeholder="search node types", description="Catalog")
        self.category = w.Dropdown(
            options=["all", *categories], value="all", description="Category"
        )
        self.type_select = w.Select(options=[], rows=8, layout=w.Layout(width="98%"))
        self.type_info = w.HTML()
        self.node_id_text = w.Text(placeholder="node id (optional)", description="Node id")
        self.add_button = w.Button(description="Add node", icon="plus", button_style="primary")
        self.search.observe(lambda _c: self._refresh_catalog(), names="value")
        self.category.observe(lambda _c: self._refresh_catalog(), names="value")
        self.type_select.observe(lambda _c: self._show_type_info(), names="value")
        self.add_button.on_click(lambda _b: self._guard(self._add_selected))

        self.nodes_select = w.Select(options=[], rows=6, description="Nodes")
        self.config_box = w.VBox()
        self.remove_node_button = w.Button(description="Remove node", icon="trash")
        self.nodes_select.observe(lambda c: setattr(self, "selected_node", c["new"]), names="value")
        self.remove_node_button.on_click(
            lambda _b: self._guard(
                lambda: self.selected_node and self.remove_node(self.selected_node)
            )
        )

        self.from_node = w.Dropdown(description="From", options=[])
        self.from_port = w.Dropdown(description="port", options=[])
        self.to_node = w.Dropdown(description="To", options=[])
        self.to_port = w.Dropdown(description="port", options=[])
        self.connect_button = w.Button(description="Connect", icon="link")
        self.connections_select = w.Select(options=[], rows=5, description="Links")
        self.disconnect_button = w.Button(description="Remove link", icon="unlink")
        self.from_node.observe(lambda _c: self._refresh_ports(), names="value")
        self.to_node.observe(lambda _c: self._refresh_ports(), names="value")
        self.connect_button.on_click(lambda _b: self._guard(self._connect_selected))
        self.disconnect_button.on_click(lambda _b: self._guard(self._disconnect_selected))

        self.dag = w.HTML(layout=w.Layout(overflow="auto"))
        self.problems_html = w.HTML()
        self.save_button = w.Button(description="Save", icon="save", button_style="success")
        self.run_button = w.Button(description="Run", icon="play", button_style="info")
        self.message = w.HTML()
        self.monitor_box = w.VBox()
        self.save_button.on_click(lambda _b: self._guard(self._save_clicked))
        self.run_button.on_click(lambda _b: self._guard(self._run_clicked))

    def _layout(self) -> list[widgets.Widget]:
        w = widgets
        catalog = w.VBox(
            [
                self.search,
                self.category,
                self.type_select,
                self.type_info,
                w.HBox([self.node_id_text, self.add_button]),
            ],
            layout=w.Layout(width="50%"),
        )
        nodes = w.VBox(
            [self.nodes_select, self.config_box, self.remove_node_button],
            layout=w.Layout(width="50%"),
        )
        links = w.VBox(
            [
                w.HBox([self.from_node, self.from_port]),
                w.HBox([self.to_node, self.to_port, self.connect_button]),
                w.HBox([self.connections_select, self.disconnect_button]),
            ]
        )
        return [
            w.HBox([self.name_text, self.description_text]),
            w.HBox([catalog, nodes]),
            links,
            self.dag,
            self.problems_html,
            w.HBox([self.save_button, self.run_button, self.message]),
            self.monitor_box,
        ]

    def _guard(self, action: Any) -> None:
        """Run a button's action; failures become a message, never a traceback."""
        try:
            action()
        except Exception as exc:
            from axonos import AxonError

            if not isinstance(exc, AxonNotebookError | AxonError | ValueError):
                raise
            self._say(describe(exc), error=True)

    def _say(self, text: str, *, error: bool = False) -> None:
        colour = "#b91c1c" if error else "#166534"
        self.message.value = (
            f'<span class="axon-message" style="color:{colour}">{html.escape(text)}</span>'
        )

    # ------------------------------------------------------------ catalog
    def _refresh_catalog(self) -> None:
        needle = self.search.value.strip().lower()
        category = self.category.value
        options = []
        for node_type in sorted(self.catalog.values(), key=lambda n: n.id):
            haystack = (
                f"{node_type.id} {node_type.name or ''} {node_type.description or ''}".lower()
            )
            if needle and needle not in haystack:
                continue
            if category != "all" and (node_type.category or "custom") != category:
                continue
            options.append((f"{node_type.id} — {node_type.name or node_type.id}", node_type.id))
        self.type_select.options = options
        if options and self.type_select.value is None:
            self.type_select.value = options[0][1]
        self._show_type_info()

    def _show_type_info(self) -> None:
        node_type = self.catalog.get(self.type_select.value or "")
        if node_type is None:
            self.type_info.value = ""
            return
        ins = ", ".join(_ports(node_type, "inputs")) or "–"
        outs = ", ".join(_ports(node_type, "outputs")) or "–"
        self.type_info.value = (
            f"<small><b>{html.escape(node_type.id)}</b>@{html.escape(node_type.version or '')} "
            f"({html.escape(node_type.category or '')}): {html.escape(node_type.description or '')}"
            f"<br>inputs: {html.escape(ins)} · outputs: {html.escape(outs)}</small>"
        )

    # ------------------------------------------------------------ editing the draft
    def _nodes(self) -> list[dict[str, Any]]:
        return list(self.definition.get("nodes") or [])

    def _node(self, node_id: str) -> dict[str, Any]:
        for node in self._nodes():
            if node["id"] == node_id:
                return node
        raise AxonNotebookError(f"no node {node_id!r} in this workflow")

    def _set(
        self, nodes: list[dict[str, Any]] | None = None, connections: list | None = None
    ) -> None:
        self.definition = {
            "nodes": nodes if nodes is not None else self._nodes(),
            "connections": connections
            if connections is not None
            else list(self.definition.get("connections") or []),
        }

    def add_node(
        self, type_id: str, node_id: str | None = None, config: Mapping[str, Any] | None = None
    ) -> str:
        """Add a node of a catalog type; returns its id (made unique from the type)."""
        if type_id not in self.catalog:
            raise AxonNotebookError(f"unknown node type {type_id!r} (see %axon nodes)")
        taken = {n["id"] for n in self._nodes()}
        if node_id:
            if node_id in taken:
                raise AxonNotebookError(f"node id {node_id!r} is already used")
        else:
            base = type_id.removeprefix("node_")
            node_id, n = base, 1
            while node_id in taken:
                n += 1
                node_id = f"{base}_{n}"
        node = {"id": node_id, "type": type_id, "config": dict(config or {})}
        self._set(nodes=[*self._nodes(), node])
        self.selected_node = node_id
        return node_id

    def _add_selected(self) -> None:
        if not self.type_select.value:
            raise AxonNotebookError("choose a node type first")
        node_id = self.add_node(self.type_select.value, self.node_id_text.value.strip() or None)
        self.node_id_text.value = ""
        self._say(f"added {node_id}")

    def remove_node(self, node_id: str) -> None:
        self._node(node_id)
        nodes = [n for n in self._nodes() if n["id"] != node_id]
        links = [
            c
            for c in self.definition.get("connections") or []
            if node_id not in (c["from"], c["to"])
        ]
        self._set(nodes=nodes, connections=links)
        if self.selected_node == node_id:
            self.selected_node = nodes[-1]["id"] if nodes else None

    def set_config(self, node_id: str, **values: Any) -> None:
        """Set config keys of a node (None removes a key)."""
        node = dict(self._node(node_id))
        config = {**node.get("config", {}), **values}
        node["config"] = {k: v for k, v in config.items() if v is not None}
        self._set(nodes=[node if n["id"] == node_id else n for n in self._nodes()])

    def connect(
        self,
        source: str,
        target: str,
        source_port: str | None = None,
        target_port: str | None = None,
    ) -> None:
        """Connect `source`'s output port to `target`'s input port (defaults: the only
        port, else output/input)."""
        from ..builder import default_port

        src, dst = self._node(source), self._node(target)
        link = {
            "from": source,
            "to": target,
            "sourcePort": source_port or default_port(self.catalog, src["type"], "outputs"),
            "targetPort": target_port or default_port(self.catalog, dst["type"], "inputs"),
        }
        if link in (self.definition.get("connections") or []):
            raise AxonNotebookError("these ports are already connected")
        self._set(connections=[*(self.definition.get("connections") or []), link])

    def _connect_selected(self) -> None:
        if not self.from_node.value or not self.to_node.value:
            raise AxonNotebookError("choose both ends of the link")
        self.connect(
            self.from_node.value, self.to_node.value, self.from_port.value, self.to_port.value
        )

    def disconnect(self, index: int) -> None:
        links = list(self.definition.get("connections") or [])
        del links[index]
        self._set(connections=links)

    def _disconnect_selected(self) -> None:
        if self.connections_select.value is None:
            raise AxonNotebookError("choose a link to remove")
        self.disconnect(self.connections_select.value)

    # ------------------------------------------------------------ reacting to the draft
    @observe("definition")
    def _on_definition(self, _change: Any = None) -> None:
        if not hasattr(self, "dag"):
            return
        ids = [n["id"] for n in self._nodes()]
        self.nodes_select.options = ids
        if self.selected_node in ids:
            self.nodes_select.value = self.selected_node
        for dropdown in (self.from_node, self.to_node):
            keep = dropdown.value
            dropdown.options = ids
            dropdown.value = keep if keep in ids else (ids[0] if ids else None)
        self.connections_select.options = [
            (f"{c['from']}.{c.get('sourcePort')} → {c['to']}.{c.get('targetPort')}", i)
            for i, c in enumerate(self.definition.get("connections") or [])
        ]
        self._refresh_ports()
        self.problems = self.check()
        ids_set = set(ids)
        states = {
            node_id: "invalid"
            for node_id in ids_set
            if any(p.startswith(f"node {node_id!r}") for p in self.problems)
        }
        self.dag.value = render_svg(self.definition, states, title=self.name)

    @observe("problems")
    def _on_problems(self, _change: Any = None) -> None:
        if not self.problems:
            self.problems_html.value = (
                '<div class="axon-problems" data-count="0" style="color:#166534">'
                "✓ no problems found</div>"
            )
            return
        items = "".join(f"<li>{html.escape(p)}</li>" for p in self.problems)
        self.problems_html.value = (
            f'<div class="axon-problems" data-count="{len(self.problems)}" '
            f'style="color:#b91c1c"><ul style="margin:0">{items}</ul></div>'
        )

    @observe("selected_node")
    def _on_selected(self, _change: Any = None) -> None:
        if not hasattr(self, "config_box"):
            return
        if self.selected_node in self.nodes_select.options:
            self.nodes_select.value = self.selected_node
        self._build_form()

    @observe("name")
    def _on_name(self, change: Any) -> None:
        if hasattr(self, "name_text") and self.name_text.value != change["new"]:
            self.name_text.value = change["new"]

    @observe("description")
    def _on_description(self, change: Any) -> None:
        if hasattr(self, "description_text") and self.description_text.value != change["new"]:
            self.description_text.value = change["new"]

    def _refresh_ports(self) -> None:
        for node_dd, port_dd, side in (
            (self.from_node, self.from_port, "outputs"),
            (self.to_node, self.to_port, "inputs"),
        ):
            node_id = node_dd.value
            ports: list[str] = []
            if node_id:
                node_type = self.catalog.get(self._node(node_id)["type"])
                ports = _ports(node_type, side) if node_type else []
            keep = port_dd.value
            port_dd.options = ports
            port_dd.value = keep if keep in ports else (ports[0] if ports else None)

    def _build_form(self) -> None:
        if not self.selected_node:
            self.config_box.children = []
            self._fields = []
            return
        node = self._node(self.selected_node)
        node_type = self.catalog.get(node["type"])
        schema = (node_type.config_schema if node_type else None) or {}
        props = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        config = node.get("config") or {}
        if props:
            self._fields = [
                ConfigField(key, prop, config.get(key), key in required)
                for key, prop in props.items()
            ]
        else:  # no schema (custom nodes): the whole config as JSON
            self._fields = [ConfigField("config", {"type": "object"}, config or None, False)]
        for field in self._fields:
            field.widget.observe(lambda _c, f=field: self._field_changed(f), names="value")
        title = widgets.HTML(
            f"<b>{html.escape(node['id'])}</b>: {html.escape(node['type'])} config"
        )
        self.config_box.children = [title, *(f.widget for f in self._fields)]

    def _field_changed(self, field: ConfigField) -> None:
        if not self.selected_node:
            return
        try:
            value = field.read()
            field.error = None
        except ValueError as exc:
            field.error = str(exc)
            self.problems = self.check()
            return
        if (
            field.key == "config"
            and field.schema.get("type") == "object"
            and len(self._fields) == 1
        ):
            node = dict(self._node(self.selected_node))
            node["config"] = value or {}
            self._set(nodes=[node if n["id"] == node["id"] else n for n in self._nodes()])
        else:
            self.set_config(self.selected_node, **{field.key: value})

    # ------------------------------------------------------------ checking
    def check(self) -> list[str]:
        """Local problems of the draft, each naming the node and field."""
        problems: list[str] = []
        nodes = self._nodes()
        links = self.definition.get("connections") or []
        linked_inputs = {(c["to"], c.get("targetPort")) for c in links}
        by_id = {n["id"]: n for n in nodes}
        if not nodes:
            problems.append("add at least one node")
        for node in nodes:
            node_type = self.catalog.get(node["type"])
            where = f"node {node['id']!r}"
            if node_type is None:
                problems.append(f"{where}: unknown type {node['type']!r}")
                continue
            schema = node_type.config_schema or {}
            props = schema.get("properties") or {}
            config = node.get("config") or {}
            for key in schema.get("required") or []:
                if config.get(key) in (None, ""):
                    problems.append(f"{where}, field config.{key}: is required")
            for key, value in config.items():
                prop = props.get(key)
                if prop is None:
                    if props and schema.get("additionalProperties") is False:
                        problems.append(f"{where}, field config.{key}: is not a known field")
                    continue
                if "enum" in prop and value not in prop["enum"]:
                    problems.append(f"{where}, field config.{key}: must be one of {prop['enum']}")
                elif "type" in prop and not _type_matches(value, prop["type"]):
                    problems.append(f"{where}, field config.{key}: must be {prop['type']}")
            for port in node_type.inputs or []:
                if (
                    port.required
                    and (node["id"], port.name) not in linked_inputs
                    and port.name not in config
                ):
                    problems.append(f"{where}, input {port.name}: is required but not connected")
        for field in self._fields:
            if field.error and self.selected_node:
                problems.append(
                    f"node {self.selected_node!r}, field config.{field.key}: {field.error}"
                )
        for c in links:
            for end, side, port_key in (
                ("from", "outputs", "sourcePort"),
                ("to", "inputs", "targetPort"),
            ):
                node = by_id.get(c[end])
                if node is None:
                    problems.append(f"link {c['from']} → {c['to']}: names missing node {c[end]!r}")
                    continue
                node_type = self.catalog.get(node["type"])
                if node_type is not None and c.get(port_key) not in _ports(node_type, side):
                    problems.append(
                        f"node {c[end]!r}, field {port_key}: {node['type']} has no "
                        f"{side[:-1]} port {c.get(port_key)!r}"
                    )
        if nodes and _has_cycle(self.definition):
            problems.append("the links form a cycle (a workflow must be a DAG)")
        return problems

    # ------------------------------------------------------------ server
    def load(self, workflow: str) -> None:
        """Open an existing workflow (name or id) for editing."""
        wf = resolve_workflow(self.connection.client, workflow)
        self.workflow_id = wf.id
        self.saved_version = wf.version
        self.name = wf.name or "untitled"
        self.description = wf.description or ""
        definition = wf.definition or {}
        self.definition = {
            "nodes": [dict(n) for n in definition.get("nodes") or []],
            "connections": [dict(c) for c in definition.get("connections") or []],
        }
        self.selected_node = self._nodes()[0]["id"] if self._nodes() else None

    def save(self) -> Any:
        """Save through the SDK (create, or update by id/name); returns the workflow."""
        definition = normalize_definition(self.definition, self.catalog)
        saved = save_definition(
            self.connection.client,
            self.name,
            definition,
            description=self.description or None,
            workflow_id=self.workflow_id,
        )
        self.workflow_id = saved.id
        self.saved_version = saved.version
        return saved

    def _save_clicked(self) -> None:
        saved = self.save()
        self._say(f"saved {saved.name} ({saved.id}, version {saved.version})")

    def run(self, input: Mapping[str, Any] | None = None, *, wait: bool | None = None) -> Any:
        """Save, execute and open an ExecutionMonitor below. `wait=None` follows in the
        background on a running event loop (a kernel), else to the end."""
        from ..runs import running_loop
        from .monitor import ExecutionMonitor

        saved = self.save()
        client = self.connection.client
        execution = client.workflows.execute(saved.id, input=dict(input or {}))
        self.monitor = ExecutionMonitor(
            execution,
            connection=self.connection,
            definition=normalize_definition(self.definition, self.catalog),
            workflow_name=saved.name,
        )
        self.monitor_box.children = [self.monitor]
        self._say(f"running {execution.id}")
        background = running_loop() is not None if wait is None else not wait
        if background:
            self.monitor.follow_in_background()
            return execution
        return self.monitor.follow()

    def _run_clicked(self) -> None:
        self.run()


def _has_cycle(definition: Mapping[str, Any]) -> bool:
    nodes = [n["id"] for n in definition.get("nodes") or []]
    succ: dict[str, set[str]] = {n: set() for n in nodes}
    indeg = dict.fromkeys(nodes, 0)
    for c in definition.get("connections") or []:
        if c.get("from") in succ and c.get("to") in succ and c["to"] not in succ[c["from"]]:
            succ[c["from"]].add(c["to"])
            indeg[c["to"]] += 1
    ready = [n for n in nodes if indeg[n] == 0]
    seen = 0
    while ready:
        n = ready.pop()
        seen += 1
        for m in succ[n]:
            indeg[m] -= 1
            if indeg[m] == 0:
                ready.append(m)
    return seen < len(nodes)
