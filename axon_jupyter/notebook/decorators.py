"""Custom nodes from notebook code: the `@axon.node` decorator and `%%axon node`'s engine.

A node's code is Python source that the server runs in a worker process, so only the
function's text travels (imports go inside it). Two shapes are accepted:
- `run(inputs, config)` (any name, first parameter `inputs`): a plain Axon node; its
  ports are the options given, else one input `input` and one output `output`;
- any other signature, e.g. `def shout(text: str, times: int = 1)`: each parameter is an
  input port (required unless it has a default, typed from its annotation; a parameter
  named `config` receives the node's config instead) and the return value goes to the
  single output port `output`. A small `run(inputs, config)` wrapper is generated.
Registering the same id with a new version adds a version; registering the same version
with the same code again is a no-op (so re-running a notebook works), with different
code a readable error asking for a new version.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import AxonNotebookError

PORT_TYPES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "dict": "object",
    "list": "array",
    "tuple": "array",
    "Mapping": "object",
    "Sequence": "array",
}


@dataclass
class Param:
    name: str
    required: bool
    annotation: str | None


@dataclass
class NodeCode:
    """What gets registered: the code and the ports its signature implies."""

    code: str
    inputs: list[dict[str, Any]] | None
    outputs: list[dict[str, Any]] | None
    description: str | None


def _port_type(annotation: str | None) -> str:
    if not annotation:
        return "any"
    base = annotation.replace("typing.", "").split("[", 1)[0].strip()
    return PORT_TYPES.get(base, "any")


def _params(args: ast.arguments) -> list[Param]:
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    out = [
        Param(a.arg, i < first_default, ast.unparse(a.annotation) if a.annotation else None)
        for i, a in enumerate(positional)
    ]
    for a, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        out.append(
            Param(a.arg, default is None, ast.unparse(a.annotation) if a.annotation else None)
        )
    return out


def _strip_decorators(source: str, func: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The source with this function's decorator lines removed (they mean nothing on
    the server, and `@axon.node` would try to register again there)."""
    if not func.decorator_list:
        return source
    lines = source.splitlines()
    first = min(d.lineno for d in func.decorator_list) - 1
    del lines[first : func.lineno - 1]
    return "\n".join(lines) + "\n"


def _find_function(tree: ast.Module, name: str | None) -> ast.FunctionDef | ast.AsyncFunctionDef:
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    by_name = {f.name: f for f in funcs}  # the last definition wins, as at import
    for wanted in (name, "run"):
        if wanted and wanted in by_name:
            return by_name[wanted]
    if len(by_name) == 1:
        return next(iter(by_name.values()))
    raise AxonNotebookError(
        "define the node's function in the cell: def run(inputs, config): ... "
        f"(or a function named {name!r})"
        if name
        else "define the node's function: def run(inputs, config): ..."
    )


def node_code(
    source: str,
    *,
    function: str | None = None,
    inputs: Sequence[Any] | None = None,
    outputs: Sequence[Any] | None = None,
) -> NodeCode:
    """Turn source defining the node's function into registrable code and ports."""
    source = textwrap.dedent(source).strip("\n") + "\n"
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise AxonNotebookError(
            f"the node's code has a syntax error at line {exc.lineno}: {exc.msg}"
        ) from None
    func = _find_function(tree, function)
    source = _strip_decorators(source, func)
    params = _params(func.args)
    names = [p.name for p in params]
    is_async = isinstance(func, ast.AsyncFunctionDef)
    description = ast.get_docstring(func)
    description = description.split("\n\n", 1)[0].strip() if description else None
    given_outputs = _ports(outputs)
    if names and names[0] == "inputs":  # a plain run(inputs, config)
        if func.name == "run" and len(names) >= 2:
            code = source
        elif len(names) >= 2:
            code = source + f"\n\nrun = {func.name}\n"
        else:
            code = source + _wrapper(func.name, is_async, "inputs", "")
        return NodeCode(code, _ports(inputs), given_outputs, description)
    # A function of named inputs: generate run(inputs, config) around it.
    ports = [p for p in params if p.name != "config"]
    port_inputs = _ports(inputs) or [
        {"name": p.name, "type": _port_type(p.annotation), "required": p.required} for p in ports
    ]
    call = ", ".join(f"{p.name!r}" for p in ports)
    kwargs = f"{{k: inputs[k] for k in ({call}{',' if len(ports) == 1 else ''}) if k in inputs}}"
    if "config" in names:
        kwargs = f"{{**{kwargs}, 'config': config}}"
    returns = func.returns
    outputs_ = given_outputs or [
        {"name": "output", "type": _port_type(ast.unparse(returns) if returns else None)}
    ]
    single = len(outputs_) == 1
    code = source + _wrapper(
        func.name, is_async, f"**{kwargs}", outputs_[0]["name"] if single else ""
    )
    return NodeCode(code, port_inputs, outputs_, description)


def _wrapper(fn_name: str, is_async: bool, call_args: str, single_output: str) -> str:
    await_ = "await " if is_async else ""
    result = f"{{{single_output!r}: result}}" if single_output else "result"
    return (
        f"\n\n_axon_node_function = {fn_name}\n\n\n"
        f"{'async ' if is_async else ''}def run(inputs, config):\n"
        f"    result = {await_}_axon_node_function({call_args})\n"
        f"    return {result}\n"
    )


def _ports(ports: Sequence[Any] | None) -> list[dict[str, Any]] | None:
    if ports is None:
        return None
    return [{"name": p} if isinstance(p, str) else dict(p) for p in ports]


def function_source(fn: Callable[..., Any]) -> str:
    try:
        return textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as exc:
        raise AxonNotebookError(
            f"cannot read the source of {getattr(fn, '__name__', fn)!r}: define it with def "
            "in a cell or a file (not a lambda or a REPL without history)"
        ) from exc


def register(
    code: NodeCode,
    *,
    id: str,
    version: str = "1.0.0",
    name: str | None = None,
    description: str | None = None,
    category: str | None = None,
    config_schema: Mapping[str, Any] | None = None,
    connection: Any = None,
) -> tuple[Any, bool]:
    """Register through the SDK; returns (node type, created). Same version with the
    same code: (existing, False); with other code: AxonNotebookError."""
    from axonos import ConflictError, ValidationError

    from .connection import current

    client = (connection or current()).client
    try:
        node = client.nodes.register(
            code=code.code,
            id=id,
            name=name,
            version=version,
            description=description or code.description,
            category=category,
            inputs=code.inputs,
            outputs=code.outputs,
            config_schema=config_schema,
        )
        return node, True
    except ConflictError:
        existing = client.nodes.get(id, version=version)
        if existing.get("code_hash") == hashlib.sha256(code.code.encode("utf-8")).hexdigest():
            return existing, False
        raise AxonNotebookError(
            f"{id} {version} is already registered with different code: give the new code a "
            "new version (--version / version=...)"
        ) from None
    except ValidationError as exc:
        from .errors import describe

        raise AxonNotebookError(f"node {id!r} was refused: {describe(exc)}") from None


def describe_node(node: Any, created: bool = True) -> str:
    ports = ", ".join(p.name for p in node.inputs or []) or "–"
    outs = ", ".join(p.name for p in node.outputs or []) or "–"
    verb = "Registered" if created else "Unchanged:"
    return f"{verb} node {node.id}@{node.version} ({node.category or 'custom'}): {ports} → {outs}"


def node(
    fn: Callable[..., Any] | None = None,
    *,
    id: str | None = None,
    version: str = "1.0.0",
    name: str | None = None,
    description: str | None = None,
    category: str | None = None,
    inputs: Sequence[Any] | None = None,
    outputs: Sequence[Any] | None = None,
    config_schema: Mapping[str, Any] | None = None,
    quiet: bool = False,
) -> Any:
    """Register a function as a custom node: `@axon.node` or `@axon.node(version="1.1.0")`.

    The function stays usable locally; its registered node type is `fn.node_type`."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        code = node_code(
            function_source(func), function=func.__name__, inputs=inputs, outputs=outputs
        )
        registered, created = register(
            code,
            id=id or func.__name__,
            version=version,
            name=name,
            description=description,
            category=category,
            config_schema=config_schema,
        )
        func.node_type = registered  # type: ignore[attr-defined]
        if not quiet:
            print(describe_node(registered, created))
        return func

    return decorate(fn) if fn is not None else decorate
