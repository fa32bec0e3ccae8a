"""Custom node types from Python source: parse the registration, check the code, hash it.

The server never executes registered code: `check_code` compiles it with `ast` and
checks that it defines `run(inputs, config)` at top level (sync or async). The engine
runs it later in a worker process, recording `code_hash` with every execution.

Who may register (and run) Python code is the `code_nodes` policy:
`owner` (default) admins and the Jupyter owner, `all` every user, `off` nobody.
Imports nothing from engine/ or api/.
"""

from __future__ import annotations

import ast
import hashlib
import re
from typing import Any

from packaging.version import InvalidVersion, Version

from ..auth.identity import Principal
from ..errors import Forbidden
from ..models import utcnow
from ..services.inputs import get_str, invalid, reject_unknown, require_object
from .types import NodeType, Port

CODE_POLICIES = ("owner", "all", "off")
MAX_CODE_BYTES = 256 * 1024
MAX_PORTS = 32
PORT_TYPES = ("any", "string", "number", "integer", "boolean", "object", "array")
NODE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")
PORT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
CATEGORY = re.compile(r"^[A-Za-z][A-Za-z0-9_ -]{0,49}$")
DEFAULT_INPUTS = (Port("input", "any", False, "Upstream data"),)
DEFAULT_OUTPUTS = (Port("output", "any", False, "What run() returned"),)
_FIELDS = {
    "id",
    "name",
    "description",
    "category",
    "version",
    "code",
    "inputs",
    "outputs",
    "config_schema",
}


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def may_run_code(policy: str, principal: Principal) -> bool:
    """The `code_nodes` policy applied to one principal (registering and running alike)."""
    if policy == "all":
        return True
    if policy == "owner":
        return principal.user.is_admin or principal.via == "jupyter"
    return False


def require_code_permission(policy: str, principal: Principal) -> None:
    if may_run_code(policy, principal):
        return
    if policy == "off":
        raise Forbidden(
            "Python code nodes are disabled on this server (code_nodes=off)",
            {"policy": policy},
        )
    raise Forbidden(
        "only admins and the Jupyter owner may register Python code (code_nodes=owner)",
        {"policy": policy},
    )


def check_code(code: str) -> str | None:
    """Why `code` cannot serve as a node (None when it can). Compiles, never executes."""
    if len(code.encode("utf-8")) > MAX_CODE_BYTES:
        return f"must be at most {MAX_CODE_BYTES} bytes"
    try:
        tree = ast.parse(code, filename="<node>", mode="exec")
        compile(tree, "<node>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"has a syntax error at line {exc.lineno}: {exc.msg}"
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"cannot be compiled: {exc}"
    run = None
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name == "run":
            run = stmt  # the last definition wins, as it would at import
    if run is None:
        return "must define a top-level function run(inputs, config)"
    args = run.args
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    required_kwonly = sum(1 for d in args.kw_defaults if d is None)
    if (positional < 2 and args.vararg is None) or required > 2 or required_kwonly:
        return "run must accept exactly two positional arguments: run(inputs, config)"
    return None


def parse_version(raw: Any, field: str = "version") -> Version:
    if not isinstance(raw, str) or not raw.strip():
        raise invalid(field, "is required (a version such as 1.0.0)")
    if len(raw) > 64:
        raise invalid(field, "must be at most 64 characters")
    try:
        return Version(raw.strip())
    except InvalidVersion as exc:
        raise invalid(field, f"{raw!r} is not a valid version (e.g. 1.0.0)") from exc


def _ports(raw: Any, field: str, default: tuple[Port, ...]) -> list[Port]:
    if raw is None:
        return list(default)
    if not isinstance(raw, list):
        raise invalid(field, "must be a list of ports")
    if len(raw) > MAX_PORTS:
        raise invalid(field, f"must hold at most {MAX_PORTS} ports")
    ports: list[Port] = []
    for i, item in enumerate(raw):
        where = f"{field}[{i}]"
        item = require_object(item, where)
        reject_unknown(item, {"name", "type", "required", "description"}, f"{where}.")
        name = get_str(item, "name", required=True, field=f"{where}.name")
        if not PORT_NAME.match(name):
            raise invalid(f"{where}.name", "must be an identifier (letters, digits, _)")
        if any(p.name == name for p in ports):
            raise invalid(f"{where}.name", f"duplicates port {name!r}")
        type_ = get_str(item, "type", default="any", choices=PORT_TYPES, field=f"{where}.type")
        required = item.get("required", False)
        if not isinstance(required, bool):
            raise invalid(f"{where}.required", "must be a boolean")
        description = get_str(
            item, "description", default="", max_len=1000, field=f"{where}.description"
        )
        ports.append(Port(name, type_, required, description))
    return ports


def _config_schema(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {"type": "object"}
    if not isinstance(raw, dict):
        raise invalid("config_schema", "must be a JSON Schema object")
    from jsonschema import Draft202012Validator  # loaded on first use
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(raw)
    except SchemaError as exc:
        where = "config_schema" + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in exc.path
        )
        raise invalid(where, f"is not a valid JSON Schema: {exc.message}") from exc
    if raw.get("type", "object") != "object":
        raise invalid("config_schema.type", 'must be "object": config is always an object')
    return raw


def parse_registration(body: Any, owner_id: str) -> NodeType:
    """A custom NodeType from a `POST /nodes` body (raises 400 naming the field)."""
    body = require_object(body)
    reject_unknown(body, _FIELDS)
    node_id = get_str(body, "id", required=True, max_len=100)
    if not NODE_ID.match(node_id):
        raise invalid("id", "must start with a letter; letters, digits, _, . and - only")
    category = get_str(body, "category", default="custom", max_len=50)
    if not CATEGORY.match(category):
        raise invalid("category", "must start with a letter; letters, digits, _, - and spaces")
    code = get_str(body, "code", required=True, min_len=1, max_len=MAX_CODE_BYTES)
    issue = check_code(code)
    if issue is not None:
        raise invalid("code", issue)
    return NodeType(
        id=node_id,
        name=get_str(body, "name", required=True, min_len=1, max_len=200),
        description=get_str(body, "description", default="", max_len=10_000),
        category=category,
        version=str(parse_version(body.get("version"))),
        inputs=_ports(body.get("inputs"), "inputs", DEFAULT_INPUTS),
        outputs=_ports(body.get("outputs"), "outputs", DEFAULT_OUTPUTS),
        config_schema=_config_schema(body.get("config_schema")),
        builtin=False,
        execution="process",
        code=code,
        code_hash=code_hash(code),
        owner_id=owner_id,
        created_at=utcnow(),
    )
