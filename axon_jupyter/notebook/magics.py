"""`%axon` / `%%axon`: Axon from notebook cells (`%load_ext axon_jupyter`).

One line-and-cell magic with subcommands, each an IPython `magic_arguments` parser (so
each has its own help: `%axon help run`, `%axon run -h`); `%axon?` lists them all.
Bad arguments print the usage and never a traceback; server refusals print one readable
line. Everything goes through the SDK via the notebook's connection (connection.py).

    In [1]: %load_ext axon_jupyter
    In [2]: %axon whoami
    In [3]: %%axon node shout --version 1.0.0
       ...: def run(inputs, config):
       ...:     return {"output": str(inputs["input"]).upper()}
    In [4]: result = %axon run etl --input name=ada
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.utils.text import dedent

from .errors import AxonNotebookError, describe

# subcommand -> (method name, "line" | "cell", one-line summary)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "connect": ("_connect", "line", "Use this Axon server from now on (or discover again)."),
    "whoami": ("_whoami", "line", "Say which server this notebook talks to, and as whom."),
    "node": ("_node", "cell", "Register the cell's run(inputs, config) as a custom node."),
    "workflow": ("_workflow", "cell", "Save the workflow defined in the cell (YAML or JSON)."),
    "run": ("_run", "line", "Execute a workflow and watch it in an ExecutionMonitor."),
    "list": ("_list", "line", "List workflows (or executions)."),
    "show": ("_show", "line", "Show a workflow (with its DAG) or an execution."),
    "logs": ("_logs", "line", "Print an execution's log (--follow: until it ends)."),
    "stop": ("_stop", "line", "Stop a queued or running execution."),
    "nodes": ("_nodes", "line", "List the node types of the catalog."),
    "builder": ("_builder", "line", "Open the WorkflowBuilder widget (optionally on a workflow)."),
    "help": ("_help", "line", "Help on a subcommand: %axon help run."),
}


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    rows = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, min(len(v), 60)) for w, v in zip(widths, row, strict=True)]

    def fmt(row: Sequence[str]) -> str:
        cells = [
            (v if len(v) <= 60 else v[:59] + "…").ljust(w) for v, w in zip(row, widths, strict=True)
        ]
        return "  ".join(cells).rstrip()

    lines = [fmt(list(headers)), fmt(["-" * w for w in widths])]
    lines += [fmt(r) for r in rows]
    return "\n".join(lines)


def parse_inputs(pairs: Sequence[str] | None, raw_json: str | None) -> dict[str, Any]:
    """`--input k=v` pairs (values read as JSON when they are JSON, else as text) over
    `--input-json`."""
    data: dict[str, Any] = {}
    if raw_json:
        try:
            loaded = json.loads(raw_json)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--input-json is not valid JSON: {exc.msg}") from None
        if not isinstance(loaded, dict):
            raise UsageError("--input-json must be a JSON object")
        data.update(loaded)
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--input takes key=value, got {pair!r}")
        try:
            data[key] = json.loads(value)
        except json.JSONDecodeError:
            data[key] = value
    return data


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


@magics_class
class AxonMagics(Magics):
    """The `%axon` magic (see the module docstring)."""

    @line_cell_magic
    def axon(self, line: str, cell: str | None = None) -> Any:
        # The docstring is built below from SUBCOMMANDS, so `%axon?` lists every one.
        sub, _, rest = line.strip().partition(" ")
        if not sub or sub in ("-h", "--help"):
            print(overview())
            return None
        entry = SUBCOMMANDS.get(sub)
        if entry is None:
            _err(f"%axon: unknown subcommand {sub!r}\n")
            print(overview())
            return None
        method_name, kind, _ = entry
        method = getattr(self, method_name)
        if kind == "cell" and cell is None:
            _err(f"%%axon {sub} is a cell magic: put the definition in the cell body\n")
            print(method.parser.format_help())
            return None
        if kind == "line" and cell is not None:
            _err(f"%axon {sub} is a line magic: use one %, not %%\n")
            print(method.parser.format_help())
            return None
        if any(a in ("-h", "--help") for a in rest.split()):
            print(method.parser.format_help())
            return None
        try:
            args = method.parser.parse_argstring(rest)
        except UsageError as exc:
            _err(f"%axon {sub}: {exc}\n")
            print(method.parser.format_help())
            return None
        try:
            return method(args, cell)
        except UsageError as exc:
            _err(f"%axon {sub}: {exc}\n")
            print(method.parser.format_help())
        except AxonNotebookError as exc:
            _err(f"%axon {sub}: {exc}")
        except Exception as exc:
            from axonos import AxonError

            from .connection import ConnectionFailed

            if not isinstance(exc, AxonError | ConnectionFailed):
                raise
            _err(f"%axon {sub}: {describe(exc)}")
        return None

    # ------------------------------------------------------------ connection
    @magic_arguments(name="axon connect")
    @argument("url", nargs="?", help="Axon API or Jupyter server URL; omit to discover again.")
    @argument("--api-key", dest="api_key", help="An Axon API key (axon_...).")
    @argument("--token", help="A login JWT, or a Jupyter server token (exchanged for a key).")
    @argument("--embedded", action="store_true", help="Start/use a server inside this kernel.")
    def _connect(self, args: Any, cell: str | None) -> None:
        """Use this Axon server from now on. Without a URL, discovery runs again:
        AXON_URL (+ AXON_API_KEY / AXON_TOKEN), the Jupyter server running this kernel,
        then an embedded server in this kernel."""
        from .connection import connect

        if (args.api_key or args.token) and not args.url:
            raise UsageError("--api-key/--token need a URL: %axon connect URL --api-key K")
        connection = connect(
            args.url, api_key=args.api_key, token=args.token, embedded=args.embedded
        )
        user = connection.client.auth.me()
        print(f"Connected to {connection.api_url} ({connection.detail}) as {user.email}")

    @magic_arguments(name="axon whoami")
    def _whoami(self, args: Any, cell: str | None) -> None:
        """Which server this notebook talks to, and as whom."""
        from .connection import current

        connection = current()
        user = connection.client.auth.me()
        print(f"server: {connection.api_url}")
        print(f"found:  {connection.source}: {connection.detail}")
        print(f"user:   {user.email} ({user.id}, {user.role}, plan {user.plan})")
        via = user.get("via") or connection.credential_kind
        minted = (
            " (minted for this kernel from the Jupyter token)" if connection.minted_key_id else ""
        )
        print(f"via:    {via}{minted}")

    # ------------------------------------------------------------ nodes and workflows
    @magic_arguments(name="%axon node")
    @argument("name", help="The node type id (e.g. shout).")
    @argument("--version", default="1.0.0", help="Version to register (default 1.0.0).")
    @argument("--category", default=None, help="Catalog category (default: custom).")
    @argument("--display-name", dest="display_name", default=None, help="Human name.")
    @argument("--description", default=None, help="Description (default: the docstring).")
    @argument("--inputs", nargs="+", default=None, help="Input port names (override).")
    @argument("--outputs", nargs="+", default=None, help="Output port names (override).")
    def _node(self, args: Any, cell: str | None) -> Any:
        """Register the cell's function as a custom node, from its source (the cell is
        not executed here; the server runs it in a worker). Define run(inputs, config),
        or a function of named inputs (def shout(text: str)) whose parameters become
        input ports. A new --version adds a version."""
        from .decorators import describe_node, node_code, register

        code = node_code(cell or "", function=args.name, inputs=args.inputs, outputs=args.outputs)
        node, created = register(
            code,
            id=args.name,
            version=args.version,
            name=args.display_name,
            description=args.description,
            category=args.category,
        )
        print(describe_node(node, created))
        return None

    @magic_arguments(name="%axon workflow")
    @argument("name", help="The workflow's name (saving it again updates it).")
    @argument("--description", default=None, help="Description.")
    @argument("--status", default=None, choices=["draft", "active", "inactive"])
    def _workflow(self, args: Any, cell: str | None) -> None:
        """Save the workflow defined in the cell, as YAML or JSON:

        nodes:
          - {id: start, type: node_manual_trigger}
          - {id: greet, type: node_set, config: {values: {hello: world}}}
        connections:
          - start -> greet        # or {from: start, to: greet, sourcePort: ...}
        """
        from IPython.display import HTML, display

        from .builder import Workflow, fetch_catalog, save_definition
        from .connection import current
        from .widgets.dag import render_svg

        draft = Workflow.from_yaml(args.name, cell or "")
        client = current().client
        definition = draft.definition(fetch_catalog(client))
        saved = save_definition(
            client,
            args.name,
            definition,
            description=args.description or draft.description,
            status=args.status,
        )
        print(
            f"Saved workflow {saved.name} ({saved.id}, version {saved.version}): "
            f"{len(definition['nodes'])} nodes, {len(definition['connections'])} connections"
        )
        display(HTML(render_svg(definition, title=saved.name)))

    # ------------------------------------------------------------ executions
    @magic_arguments(name="axon run")
    @argument("workflow", help="Workflow name or id.")
    @argument(
        "--input",
        "-i",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="An input value (repeatable); VALUE is read as JSON when it is JSON.",
    )
    @argument("--input-json", dest="input_json", default=None, help="The input as a JSON object.")
    @argument(
        "--no-wait",
        dest="no_wait",
        action="store_true",
        help="Return at once; in a kernel the monitor keeps updating.",
    )
    @argument(
        "--no-monitor",
        dest="no_monitor",
        action="store_true",
        help="No widget: just run (and wait unless --no-wait).",
    )
    def _run(self, args: Any, cell: str | None) -> Any:
        """Execute a workflow and show an ExecutionMonitor (live progress, node states,
        DAG, logs, output). Returns the execution: `result = %axon run etl`. Ctrl-C or
        the Stop button stops it."""
        from .runs import run_workflow

        payload = parse_inputs(args.input, args.input_json)
        execution = run_workflow(
            args.workflow, input=payload, wait=not args.no_wait, monitor=not args.no_monitor
        )
        if args.no_monitor and not _in_kernel():
            print(_execution_line(execution))
        return execution

    @magic_arguments(name="axon list")
    @argument("what", nargs="?", default="workflows", choices=["workflows", "executions"])
    @argument("--status", default=None, help="Only this status.")
    @argument("--search", default=None, help="Workflows whose name or description match.")
    @argument("--workflow", default=None, help="Executions of this workflow (name or id).")
    @argument("--limit", type=int, default=20, help="How many (default 20, at most 100).")
    def _list(self, args: Any, cell: str | None) -> None:
        """List your workflows (default) or executions, newest first."""
        from .builder import resolve_workflow
        from .connection import current

        client = current().client
        if args.what == "workflows":
            page = client.workflows.list(status=args.status, search=args.search, limit=args.limit)
            rows = [
                (w.id, w.name, w.status, w.node_count, w.execution_count, _when(w.updated_at))
                for w in page.items
            ]
            print(_table(["id", "name", "status", "nodes", "runs", "updated"], rows))
            return None
        workflow_id = resolve_workflow(client, args.workflow).id if args.workflow else None
        page = client.executions.list(workflow_id=workflow_id, status=args.status, limit=args.limit)
        rows = [
            (
                e.id,
                e.workflow_id,
                e.status,
                f"{(e.progress or 0):.0%}",
                e.duration,
                _when(e.created_at),
            )
            for e in page.items
        ]
        print(_table(["id", "workflow", "status", "progress", "duration", "created"], rows))
        return None

    @magic_arguments(name="axon show")
    @argument("id", help="A workflow (id or name) or an execution (exec_...).")
    def _show(self, args: Any, cell: str | None) -> None:
        """Show a workflow (summary, DAG, nodes) or an execution (states, output)."""
        from IPython.display import HTML, display

        from .builder import resolve_workflow
        from .connection import current
        from .widgets.dag import render_svg

        client = current().client
        if args.id.startswith("exec_"):
            e = client.executions.get(args.id)
            print(_execution_line(e))
            rows = [
                (
                    n.node_id,
                    f"{n.type}@{n.version}",
                    n.status,
                    n.attempts,
                    n.duration,
                    _short(n.error),
                )
                for n in e.nodes or []
            ]
            print(_table(["node", "type", "status", "attempts", "duration", "error"], rows))
            if e.output is not None:
                print("output:", json.dumps(e.output, indent=2, default=str))
            return None
        wf = resolve_workflow(client, args.id)
        definition = wf.definition or {}
        print(
            f"{wf.name} ({wf.id}) · {wf.status} · version {wf.version} · "
            f"{wf.node_count} nodes · {wf.execution_count} runs"
        )
        if wf.description:
            print(wf.description)
        display(HTML(render_svg(definition, title=wf.name)))
        rows = [
            (
                n["id"],
                n["type"] + (f"@{n['version']}" if n.get("version") else ""),
                json.dumps(n.get("config") or {}, default=str),
            )
            for n in definition.get("nodes") or []
        ]
        print(_table(["node", "type", "config"], rows))
        return None

    @magic_arguments(name="axon logs")
    @argument("execution", help="The execution id (exec_...).")
    @argument("--follow", "-f", action="store_true", help="Keep printing until it ends.")
    @argument("--limit", type=int, default=100, help="Lines per request (default 100).")
    def _logs(self, args: Any, cell: str | None) -> None:
        """Print an execution's log lines (print() in node code lands here too)."""
        from .connection import current
        from .widgets.monitor import _log_line

        client = current().client
        try:
            for entry in client.executions.tail(
                args.execution, follow=args.follow, page_size=args.limit
            ):
                print(_log_line(entry))
        except KeyboardInterrupt:  # stops following, not the execution
            print("(stopped following)")
        return None

    @magic_arguments(name="axon stop")
    @argument("execution", help="The execution id (exec_...).")
    def _stop(self, args: Any, cell: str | None) -> None:
        """Stop a queued or running execution."""
        from axonos import ConflictError

        from .connection import current

        client = current().client
        try:
            stopped = client.executions.stop(args.execution)
        except ConflictError:
            now = client.executions.get(args.execution)
            print(f"{now.id} already finished: {now.status}")
            return None
        print(f"{stopped.id}: {stopped.status}")
        return None

    @magic_arguments(name="axon nodes")
    @argument("--category", default=None, help="Only this category.")
    @argument("--search", default=None, help="Name or description contains this.")
    def _nodes(self, args: Any, cell: str | None) -> None:
        """List node types: the built-ins and your custom nodes."""
        from .connection import current

        nodes = current().client.nodes.list(category=args.category, search=args.search)
        rows = [
            (
                n.id,
                n.version,
                n.category,
                ", ".join(p.name for p in n.inputs) or "–",
                ", ".join(p.name for p in n.outputs) or "–",
                (n.description or "").split("\n")[0],
            )
            for n in sorted(nodes, key=lambda n: (n.category or "", n.id))
        ]
        print(_table(["id", "version", "category", "inputs", "outputs", "description"], rows))
        return None

    @magic_arguments(name="axon builder")
    @argument("workflow", nargs="?", default=None, help="A workflow to edit (name or id).")
    def _builder(self, args: Any, cell: str | None) -> None:
        """Open the WorkflowBuilder: pick nodes, configure, connect, save and run."""
        from IPython.display import display

        from .widgets.builder import WorkflowBuilder

        display(WorkflowBuilder(workflow=args.workflow))
        return None

    @magic_arguments(name="axon help")
    @argument("subcommand", nargs="?", default=None, help="The subcommand to explain.")
    def _help(self, args: Any, cell: str | None) -> None:
        """Help on the %axon subcommands."""
        if args.subcommand is None:
            print(overview())
            return None
        entry = SUBCOMMANDS.get(args.subcommand)
        if entry is None:
            raise UsageError(f"unknown subcommand {args.subcommand!r}")
        print(getattr(self, entry[0]).parser.format_help())
        return None


def _short(value: Any, limit: int = 60) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        value = value.get("message") or json.dumps(value, default=str)
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _execution_line(e: Any) -> str:
    duration = f" in {e.duration:.2f} s" if e.duration is not None else ""
    text = f"{e.id} ({e.workflow_id}): {e.status}{duration}"
    if e.status == "succeeded" and e.output is not None:
        text += f"; output: {_short(json.dumps(e.output, default=str), 200)}"
    elif e.error:
        text += f"; error: {_short(e.error, 200)}"
    return text


def _in_kernel() -> bool:
    from .connection import current_kernel

    return current_kernel() is not None


def overview() -> str:
    """The `%axon?` text: every subcommand's usage and purpose."""
    lines = [
        "Axon in notebook cells. Subcommands (each takes -h):",
        "",
    ]
    for method_name, _kind, summary in SUBCOMMANDS.values():
        parser = getattr(AxonMagics, method_name).parser
        usage = parser.format_usage().replace("::", "").strip()
        lines.append(f"  {usage}")
        lines.append(f"      {summary}")
    lines += [
        "",
        "The server is found in this order: AXON_URL (+ AXON_API_KEY / AXON_TOKEN), the",
        "Jupyter server running this kernel, else an embedded server in the kernel.",
        "From Python: `from axon_jupyter.notebook import axon` (axon.Workflow, axon.node,",
        "axon.run, axon.ExecutionMonitor, axon.WorkflowBuilder).",
    ]
    return "\n".join(lines)


AxonMagics.axon.__doc__ = dedent(overview())


def _pretty(kind: str, describe_obj: Callable[[Any], str]) -> Callable[[Any, Any, bool], None]:
    def printer(obj: Any, p: Any, cycle: bool) -> None:
        p.text(f"<{kind} {describe_obj(obj)}>")

    return printer


def register_formatters(ipython: Any) -> None:
    """Short text reprs for SDK records in IPython (an Execution's dataclass repr runs to
    pages); the objects themselves are untouched."""
    from axonos import Execution, NodeType, Workflow

    formatter = ipython.display_formatter.formatters["text/plain"]
    formatter.for_type(Execution, _pretty("Execution", _execution_line))
    formatter.for_type(
        Workflow, _pretty("Workflow", lambda w: f"{w.id} {w.name!r} {w.status} v{w.version}")
    )
    formatter.for_type(NodeType, _pretty("NodeType", lambda n: f"{n.id}@{n.version}"))


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext axon_jupyter`: register %axon / %%axon (connecting happens lazily)."""
    ipython.register_magics(AxonMagics)
    register_formatters(ipython)
