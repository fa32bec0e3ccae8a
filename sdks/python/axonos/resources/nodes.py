"""`/nodes`: the node catalog, and registering custom nodes from Python.

A custom node is Python source defining `run(inputs, config)` (sync or async) that the
server runs in a worker process. `register()` takes that source as a string, or takes a
function and sends its source: the function must be self-contained (imports inside
it), because only its text travels, not the module around it.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._base_client import Call, quote
from .._types import NodeType
from ._resource import AsyncAPIResource, SyncAPIResource

PortSpec = str | Mapping[str, Any]


def function_source(fn: Callable[..., Any]) -> str:
    """The source of `fn` as a node's code: dedented, decorators dropped, and called by a
    top-level `run(inputs, config)` when it has another name."""
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as exc:
        raise ValueError(
            f"cannot read the source of {fn!r} (defined in a plain REPL, a lambda or a "
            "builtin?); pass the source as code=... instead"
        ) from exc
    tree = ast.parse(source)
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if not defs:
        raise ValueError(f"{fn!r} is not a function defined with def; pass code=... instead")
    func = defs[0]
    # Decorators sit above the `def` line (the decorator that registers the node would
    # otherwise run again on the server, where it means nothing).
    lines = source.splitlines()[func.lineno - 1 :]
    code = "\n".join(lines).rstrip() + "\n"
    if func.name != "run":
        # The server looks for a top-level `def run`: delegate to the function by name.
        if isinstance(func, ast.AsyncFunctionDef):
            call = f"await {func.name}(inputs, config)"
            code += f"\n\nasync def run(inputs, config):\n    return {call}\n"
        else:
            code += f"\n\ndef run(inputs, config):\n    return {func.name}(inputs, config)\n"
    return code


def _ports(ports: Sequence[PortSpec] | None) -> list[dict[str, Any]] | None:
    if ports is None:
        return None
    return [{"name": p} if isinstance(p, str) else dict(p) for p in ports]


def _doc(fn: Callable[..., Any]) -> str | None:
    doc = inspect.getdoc(fn)
    return doc.split("\n\n", 1)[0].strip() if doc else None


def _register_call(
    fn: Callable[..., Any] | None,
    *,
    code: str | None,
    id: str | None,
    name: str | None,
    version: str,
    description: str | None,
    category: str | None,
    inputs: Sequence[PortSpec] | None,
    outputs: Sequence[PortSpec] | None,
    config_schema: Mapping[str, Any] | None,
) -> Call[NodeType]:
    if (fn is None) == (code is None):
        raise ValueError("register() takes either a function or code=..., not both or neither")
    if fn is not None:
        code = function_source(fn)
        id = id or fn.__name__
        name = name or fn.__name__.replace("_", " ").strip().capitalize()
        description = description if description is not None else _doc(fn)
    if not id:
        raise ValueError("a node registered from source needs id=...")
    body: dict[str, Any] = {"id": id, "name": name or id, "version": version, "code": code}
    optional = {
        "description": description,
        "category": category,
        "inputs": _ports(inputs),
        "outputs": _ports(outputs),
        "config_schema": dict(config_schema) if config_schema is not None else None,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return Call("POST", "nodes", json=body, cast=NodeType.from_api)


def _nodes(data: Any) -> list[NodeType]:
    return [NodeType.from_api(n) for n in data.get("nodes", [])]


def _list_call(
    category: str | None, search: str | None, version: str | None, builtin: bool | None
) -> Call[Any]:
    params = {"category": category, "search": search, "version": version, "builtin": builtin}
    return Call("GET", "nodes", params=params, cast=_nodes)


def _get_call(node_id: str, version: str | None) -> Call[NodeType]:
    return Call(
        "GET", f"nodes/{quote(node_id)}", params={"version": version}, cast=NodeType.from_api
    )


def _versions(data: Any) -> list[NodeType]:
    return [NodeType.from_api(v) for v in data.get("versions", [])]


def _versions_call(node_id: str) -> Call[list[NodeType]]:
    return Call("GET", f"nodes/{quote(node_id)}/versions", cast=_versions)


class Nodes(SyncAPIResource):
    def list(
        self,
        *,
        category: str | None = None,
        search: str | None = None,
        version: str | None = None,
        builtin: bool | None = None,
    ) -> list[NodeType]:
        """Node types you can use: the built-ins and your custom nodes (`builtin=False`:
        only yours)."""
        return self._client._request(_list_call(category, search, version, builtin))

    def get(self, node_id: str, *, version: str | None = None) -> NodeType:
        """A node type, at its latest version unless `version` is given."""
        return self._client._request(_get_call(node_id, version))

    def register(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        code: str | None = None,
        id: str | None = None,
        name: str | None = None,
        version: str = "1.0.0",
        description: str | None = None,
        category: str | None = None,
        inputs: Sequence[PortSpec] | None = None,
        outputs: Sequence[PortSpec] | None = None,
        config_schema: Mapping[str, Any] | None = None,
    ) -> NodeType:
        """Register a custom node from a function (`register(fn)`: id and name from its
        name, description from its docstring) or from source (`register(code=..., id=...)`).
        A new version of an existing id adds a version; the same version again is a
        ConflictError. Ports are names or `{"name", "type", "required", ...}` objects."""
        return self._client._request(
            _register_call(
                fn,
                code=code,
                id=id,
                name=name,
                version=version,
                description=description,
                category=category,
                inputs=inputs,
                outputs=outputs,
                config_schema=config_schema,
            )
        )

    def versions(self, node_id: str) -> list[NodeType]:
        """Every registered version of a node type."""
        return self._client._request(_versions_call(node_id))


class AsyncNodes(AsyncAPIResource):
    async def list(
        self,
        *,
        category: str | None = None,
        search: str | None = None,
        version: str | None = None,
        builtin: bool | None = None,
    ) -> list[NodeType]:
        """Node types you can use: the built-ins and your custom nodes."""
        return await self._client._request(_list_call(category, search, version, builtin))

    async def get(self, node_id: str, *, version: str | None = None) -> NodeType:
        """A node type, at its latest version unless `version` is given."""
        return await self._client._request(_get_call(node_id, version))

    async def register(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        code: str | None = None,
        id: str | None = None,
        name: str | None = None,
        version: str = "1.0.0",
        description: str | None = None,
        category: str | None = None,
        inputs: Sequence[PortSpec] | None = None,
        outputs: Sequence[PortSpec] | None = None,
        config_schema: Mapping[str, Any] | None = None,
    ) -> NodeType:
        """Register a custom node from a function or from source (see `Nodes.register`)."""
        return await self._client._request(
            _register_call(
                fn,
                code=code,
                id=id,
                name=name,
                version=version,
                description=description,
                category=category,
                inputs=inputs,
                outputs=outputs,
                config_schema=config_schema,
            )
        )

    async def versions(self, node_id: str) -> list[NodeType]:
        """Every registered version of a node type."""
        return await self._client._request(_versions_call(node_id))
