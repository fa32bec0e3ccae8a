"""Resolvers: each calls the same service as the matching REST endpoint.

Same validation, ownership and errors as REST, because they are the same calls: a
service raises an AxonError and the error formatter (execution.py) puts its code in
`extensions.code`. Scopes are the REST endpoints' scopes. Lists never query per item:
workflow definitions and per-workflow executions go through the context's loaders.
Transport only: no store access, no rules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from graphql import GraphQLResolveInfo

from ...engine.events import EXECUTION_UPDATE, SYSTEM_HEALTH
from ...models import Execution, ExecutionNode, Workflow
from ...services.inputs import invalid
from .context import GraphQLContext

READ, WRITE, RUN = "workflows:read", "workflows:write", "executions:run"
EMPTY_DEFINITION: dict[str, Any] = {"nodes": [], "connections": []}


def _ctx(info: GraphQLResolveInfo) -> GraphQLContext:
    return info.context


def _body(value: dict[str, Any] | None, names: dict[str, str]) -> dict[str, Any]:
    """GraphQL input (camelCase, only the fields given) -> the REST body the service reads."""
    return {names.get(k, k): v for k, v in (value or {}).items()}


# ---------------------------------------------------------------- Query
async def resolve_workflows(_: Any, info: GraphQLResolveInfo, filter: Any = None) -> list[Any]:
    ctx = _ctx(info)
    ctx.require(READ)
    f = filter or {}
    page = await ctx.call(
        ctx.runtime.workflows.list(
            ctx.principal,
            page=f.get("page"),
            limit=f.get("limit"),
            status=f.get("status"),
            search=f.get("search"),
        )
    )
    return page.items


async def resolve_workflow(_: Any, info: GraphQLResolveInfo, id: str) -> Workflow:
    ctx = _ctx(info)
    ctx.require(READ)
    return await ctx.call(ctx.runtime.workflows.get(ctx.principal, id))


async def resolve_nodes(_: Any, info: GraphQLResolveInfo, filter: Any = None) -> list[Any]:
    ctx = _ctx(info)
    ctx.require(READ)
    f = filter or {}
    return await ctx.call(
        ctx.runtime.nodes.list(
            ctx.principal,
            category=f.get("category"),
            search=f.get("search"),
            version=f.get("version"),
        )
    )


async def resolve_node(_: Any, info: GraphQLResolveInfo, id: str) -> Any:
    ctx = _ctx(info)
    ctx.require(READ)
    return await ctx.call(ctx.runtime.nodes.get(ctx.principal, id))


async def resolve_executions(_: Any, info: GraphQLResolveInfo, filter: Any = None) -> list[Any]:
    ctx = _ctx(info)
    ctx.require(READ)
    f = filter or {}
    page = await ctx.call(
        ctx.runtime.executions.list(
            ctx.principal,
            page=f.get("page"),
            limit=f.get("limit"),
            workflow_id=f.get("workflowId"),
            status=f.get("status"),
        )
    )
    return page.items


async def resolve_execution(_: Any, info: GraphQLResolveInfo, id: str) -> Any:
    ctx = _ctx(info)
    ctx.require(READ)
    return await ctx.call(ctx.runtime.executions.get(ctx.principal, id))


# ---------------------------------------------------------------- Mutation
_WORKFLOW_INPUT: dict[str, str] = {}


async def resolve_create_workflow(_: Any, info: GraphQLResolveInfo, input: Any) -> Workflow:
    ctx = _ctx(info)
    ctx.require(WRITE)
    return await ctx.call(
        ctx.runtime.workflows.create(ctx.principal, _body(input, _WORKFLOW_INPUT))
    )


async def resolve_update_workflow(
    _: Any, info: GraphQLResolveInfo, id: str, input: Any
) -> Workflow:
    ctx = _ctx(info)
    ctx.require(WRITE)
    return await ctx.call(
        ctx.runtime.workflows.update(ctx.principal, id, _body(input, _WORKFLOW_INPUT))
    )


async def resolve_delete_workflow(_: Any, info: GraphQLResolveInfo, id: str) -> bool:
    ctx = _ctx(info)
    ctx.require(WRITE)
    await ctx.call(ctx.runtime.workflows.delete(ctx.principal, id))
    return True


async def resolve_execute_workflow(
    _: Any, info: GraphQLResolveInfo, id: str, input: Any = None
) -> Any:
    ctx = _ctx(info)
    ctx.require(RUN)
    return await ctx.call(ctx.runtime.executions.execute(ctx.principal, id, _body(input, {})))


# ---------------------------------------------------------------- Workflow
async def resolve_workflow_definition(wf: Workflow, info: GraphQLResolveInfo) -> dict[str, Any]:
    if wf.definition is not None:
        return wf.definition
    # List items are summaries: their definitions arrive in one batched read.
    full = await _ctx(info).loader("workflows").load(wf.id)
    return full.definition if full is not None else EMPTY_DEFINITION


async def resolve_workflow_settings(wf: Workflow, info: GraphQLResolveInfo) -> dict[str, Any]:
    if wf.definition is not None:
        return wf.settings
    full = await _ctx(info).loader("workflows").load(wf.id)
    return full.settings if full is not None else {}


async def resolve_workflow_executions(
    wf: Workflow, info: GraphQLResolveInfo, limit: int = 10
) -> list[Any]:
    ctx = _ctx(info)
    if not 1 <= limit <= 100:
        raise invalid("limit", "must be between 1 and 100")
    return await ctx.loader("executions").load((wf.id, limit))


# ---------------------------------------------------------------- Execution
async def resolve_execution_workflow(execution: Execution, info: GraphQLResolveInfo) -> Any:
    return await _ctx(info).loader("workflows").load(execution.workflow_id)


async def resolve_execution_nodes(
    execution: Execution, info: GraphQLResolveInfo
) -> list[ExecutionNode]:
    if execution.nodes is not None:
        return execution.nodes
    # List items carry no per-node records: one batched read for the whole list.
    full = await _ctx(info).loader("executions_full").load(execution.id)
    return full.nodes if full is not None else []


def resolve_execution_duration(execution: Execution, _info: GraphQLResolveInfo) -> Any:
    return execution.summary()["duration"]


def resolve_node_duration(node: ExecutionNode, _info: GraphQLResolveInfo) -> Any:
    return node.to_api()["duration"]


# ---------------------------------------------------------------- Subscription
async def subscribe_workflow_execution(
    _: Any, info: GraphQLResolveInfo, workflowId: str
) -> AsyncIterator[dict[str, Any]]:
    ctx = _ctx(info)
    ctx.require(READ)
    await ctx.call(ctx.runtime.workflows.get(ctx.principal, workflowId))  # owned, or 404
    sub = ctx.runtime.events.subscribe(
        ctx.principal.user_id,
        workflow_id=workflowId,
        types={EXECUTION_UPDATE},
        maxsize=ctx.runtime.config.ws_queue_size,
    )
    return _stream(sub, first=None)


async def subscribe_system_health(_: Any, info: GraphQLResolveInfo) -> AsyncIterator[Any]:
    ctx = _ctx(info)
    sub = ctx.runtime.events.subscribe(
        ctx.principal.user_id, types={SYSTEM_HEALTH}, maxsize=ctx.runtime.config.ws_queue_size
    )
    try:
        first = await ctx.call(ctx.runtime.health.snapshot())
    except BaseException:
        sub.close()
        raise
    return _stream(sub, first=first)


async def _stream(sub: Any, first: dict[str, Any] | None) -> AsyncIterator[dict[str, Any]]:
    """Event data from a bus subscription; closing the iterator ends the subscription.
    A subscriber that falls behind raises SlowConsumer here (the socket is cut off)."""
    try:
        if first is not None:
            yield first
        async for event in sub:
            yield event.data
    finally:
        sub.close()


QUERY = {
    "workflows": resolve_workflows,
    "workflow": resolve_workflow,
    "nodes": resolve_nodes,
    "node": resolve_node,
    "executions": resolve_executions,
    "execution": resolve_execution,
}
MUTATION = {
    "createWorkflow": resolve_create_workflow,
    "updateWorkflow": resolve_update_workflow,
    "deleteWorkflow": resolve_delete_workflow,
    "executeWorkflow": resolve_execute_workflow,
}
SUBSCRIPTION = {
    "workflowExecution": subscribe_workflow_execution,
    "systemHealth": subscribe_system_health,
}
# type -> field -> resolver, for fields whose value is not simply the attribute or key
# of the same name (camelCase read as snake_case by the default resolver in schema.py).
FIELDS = {
    "Query": QUERY,
    "Mutation": MUTATION,
    "Workflow": {
        "definition": resolve_workflow_definition,
        "settings": resolve_workflow_settings,
        "executions": resolve_workflow_executions,
    },
    "Execution": {
        "workflow": resolve_execution_workflow,
        "nodes": resolve_execution_nodes,
        "duration": resolve_execution_duration,
    },
    "ExecutionNode": {"duration": resolve_node_duration},
}
# Fields read under another name than their snake_case: (type, field) -> attribute/key.
RENAMED = {
    ("Execution", "startTime"): "started_at",
    ("Execution", "endTime"): "finished_at",
    ("ExecutionNode", "startTime"): "started_at",
    ("ExecutionNode", "endTime"): "finished_at",
    ("ExecutionNode", "type"): "node_type",
    ("ExecutionNode", "version"): "node_version",
}
