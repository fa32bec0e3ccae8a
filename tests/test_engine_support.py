"""Node types and helpers for the engine and executions tests (no tests in here).

The engine is tested with node types built here (inline async `run` functions and
process nodes with `code`), installed as the engine's resolver; any other type id
falls through to the real catalog, so built-ins can be mixed in. Workflows made of
these types are stored through the store (the catalog would refuse their types on
save); everything else goes through the real REST API.
"""

from __future__ import annotations

import asyncio
from typing import Any

from axon_jupyter.errors import ValidationError
from axon_jupyter.models import Workflow, new_id, utcnow
from axon_jupyter.nodes.types import NodeError, NodeType, Port
from axon_jupyter.services.definitions import normalize_definition

IN = [Port("input")]
OUT = [Port("output")]
FLAKY: dict[str, int] = {}  # execution id + node id -> failures so far


async def _noop(inputs, config, ctx):
    return {"output": inputs.get("input")}


async def _value(inputs, config, ctx):
    return {"output": config.get("value")}


async def _branch(inputs, config, ctx):
    port = "true" if config.get("cond") else "false"
    return {port: inputs.get("input")}


async def _collect(inputs, config, ctx):
    return {"output": dict(inputs)}


async def _fail(inputs, config, ctx):
    raise NodeError(config.get("message", "boom"))


async def _flaky(inputs, config, ctx):
    key = config.get("key") or f"{ctx.execution_id}/{ctx.node_id}"
    FLAKY[key] = FLAKY.get(key, 0) + 1
    if FLAKY[key] <= int(config.get("failures", 1)):
        raise NodeError(f"flaky failure {FLAKY[key]}")
    return {"output": {"attempt": ctx.attempt}}


async def _sleep(inputs, config, ctx):
    await asyncio.sleep(float(config.get("seconds", 0)))
    return {"output": inputs.get("input")}


async def _log(inputs, config, ctx):
    ctx.log(config.get("level", "info"), config.get("message", "hello"))
    return {"output": inputs.get("input")}


async def _sub(inputs, config, ctx):
    return {"output": await ctx.run_subworkflow(config["workflow_id"], inputs.get("input") or {})}


async def _explode(inputs, config, ctx):
    return {"output": 1 / 0}


def _inline(type_id: str, run, *, inputs=IN, outputs=OUT, **extra) -> NodeType:
    return NodeType(
        type_id, type_id, "", "test", "1.0.0", inputs, outputs, {}, True, run=run, extra=extra
    )


TEST_TYPES: dict[str, NodeType] = {
    t.id: t
    for t in (
        _inline("t_noop", _noop),
        _inline("t_value", _value),
        _inline("t_branch", _branch, outputs=[Port("true"), Port("false")]),
        _inline("t_collect", _collect, inputs=[Port("a"), Port("b"), Port("input")]),
        _inline("t_fail", _fail),
        _inline("t_flaky", _flaky),
        _inline("t_sleep", _sleep),
        _inline("t_log", _log),
        _inline("t_sub", _sub),
        _inline("t_explode", _explode),
        NodeType(
            "t_py",
            "Python",
            "",
            "test",
            "1.0.0",
            IN,
            OUT,
            {},
            True,
            execution="process",
            extra={"raw_config": ["code"]},
        ),
    )
}


def install_test_types(runtime) -> None:
    """Make the engine resolve the types above (and the catalog's for anything else)."""

    async def resolve(user_id: str, type_id: str, version: str | None) -> NodeType:
        found = TEST_TYPES.get(type_id)
        if found is not None:
            return found
        catalog = getattr(runtime, "catalog", None)
        if catalog is None:
            raise ValidationError(f"Unknown node type {type_id!r}", {"type": type_id})
        return await catalog.resolve(user_id, type_id, version)

    runtime.engine.resolver = resolve


def n(node_id: str, type_id: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": type_id, "config": config}


def e(src: str, dst: str, source_port: str = "output", target_port: str = "input") -> dict:
    return {"from": src, "to": dst, "sourcePort": source_port, "targetPort": target_port}


def py(node_id: str, code: str, **spec: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "t_py", "config": {"code": code}, **spec}


async def store_workflow(
    runtime, user_id: str, nodes: list, connections: list = (), *, settings=None, name="wf"
) -> str:
    definition = normalize_definition({"nodes": list(nodes), "connections": list(connections)})
    now = utcnow()
    wf = Workflow(
        id=new_id("wf"),
        user_id=user_id,
        name=name,
        description="",
        status="active",
        definition=definition,
        version=1,
        created_at=now,
        updated_at=now,
        node_count=len(definition["nodes"]),
        settings=settings or {},
    )
    await runtime.store.create_workflow(wf)
    return wf.id


async def run(client, workflow_id: str, input: dict | None = None, wait: float = 20) -> dict:
    """Execute through REST and wait for the terminal state; returns the execution."""
    resp = await client.post(
        f"workflows/{workflow_id}/execute", {"input": input or {}}, params={"wait": wait}
    )
    assert resp.status == 201, resp
    return resp.json()


async def wait_status(client, execution_id: str, statuses, timeout: float = 20) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        resp = await client.get(f"executions/{execution_id}")
        assert resp.status == 200, resp
        body = resp.json()
        if body["status"] in statuses:
            return body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.05)


def nodes_of(execution: dict) -> dict[str, dict]:
    return {node["node_id"]: node for node in execution["nodes"]}
