"""Running one GraphQL operation: parse, budget, validate, cost, execute, format errors.

Shared by the HTTP endpoint and the graphql-transport-ws protocol. Documents larger than
`graphql_offload_bytes` (or wider than OFFLOAD_FIELDS fields once parsed) are parsed,
validated and executed in a worker thread with its own event loop (resolvers reach the
services on the server's loop through `GraphQLContext.call`), so no document can stall
the server; at most `WORKERS` such operations run at once. Errors carry the REST
envelope's code in `extensions.code` and its details in `extensions.details`.
Nothing here imports tornado.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    subscribe,
    validate,
)
from graphql.language import DocumentNode, FragmentDefinitionNode, OperationDefinitionNode

from ...config import AxonConfig
from ...errors import AxonError
from .context import GraphQLContext
from .limits import Limits, _Budget, check_budget, check_cost, limit_error
from .schema import axon_schema

log = logging.getLogger("axon.graphql")

# One worker: a CPU-bound document in a thread still takes the GIL from the event loop
# at every switch interval, so at most one competes with it; others wait their turn.
WORKERS = 1
OFFLOAD_FIELDS = 200
MAX_VALIDATION_ERRORS = 20
MAX_DOCUMENT_CHARS = 64 * 1024  # before the lexer: comments and strings are not tokens
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="axon-graphql")
    return _pool


def limits_from(config: AxonConfig) -> Limits:
    return Limits(
        max_tokens=config.graphql_max_tokens,
        max_depth=config.graphql_max_depth,
        max_aliases=config.graphql_max_aliases,
        max_cost=config.graphql_max_cost,
    )


class RequestError(Exception):
    """The operation was refused before execution (syntax, validation, limits, method)."""

    def __init__(self, errors: list[GraphQLError], status: int = 400):
        super().__init__(errors[0].message if errors else "bad request")
        self.errors = errors
        self.status = status


def bad_request(message: str, field: str) -> RequestError:
    return RequestError(
        [
            GraphQLError(
                message,
                extensions={"code": "VALIDATION_ERROR", "details": {"field": field}},
            )
        ]
    )


@dataclass(frozen=True, slots=True)
class Operation:
    """A request as received: the document text, variables and operation name."""

    query: Any
    variables: Any = None
    operation_name: Any = None

    def checked(self) -> Operation:
        if not isinstance(self.query, str) or not self.query.strip():
            raise bad_request("a GraphQL `query` string is required", "query")
        if len(self.query) > MAX_DOCUMENT_CHARS:
            raise RequestError([limit_error("document size", MAX_DOCUMENT_CHARS, len(self.query))])
        if self.variables is not None and not isinstance(self.variables, dict):
            raise bad_request("`variables` must be an object", "variables")
        if self.operation_name is not None and not isinstance(self.operation_name, str):
            raise bad_request("`operationName` must be a string", "operationName")
        return self


def format_error(error: GraphQLError) -> dict[str, Any]:
    """A GraphQL error in the shape clients expect, with the envelope's code."""
    original = error.original_error
    if isinstance(original, AxonError):
        message = original.message
        extensions = {"code": original.code, "details": original.details}
    elif original is not None:
        log.error("GraphQL resolver failed at %s", error.path, exc_info=original)
        message, extensions = "Internal server error", {"code": "INTERNAL_ERROR", "details": {}}
    else:  # syntax, validation and limit errors
        message = error.message
        extensions = {"code": "VALIDATION_ERROR", "details": {}, **(error.extensions or {})}
    out: dict[str, Any] = {"message": message}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        out["path"] = list(error.path)
    out["extensions"] = extensions
    return out


def result_body(result: ExecutionResult) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [format_error(e) for e in result.errors]
    body["data"] = result.data
    return body


def _parse(op: Operation, limits: Limits) -> DocumentNode:
    """Parse with the token cap, then the budgets that need no validation."""
    try:
        document = parse(op.query, max_tokens=limits.max_tokens)
        check_budget(document, limits)
        check_cost(axon_schema(), document, op.variables, limits)
    except GraphQLError as exc:
        raise RequestError([exc]) from None
    return document


def prepare(
    schema: GraphQLSchema, op: Operation, limits: Limits, document: DocumentNode | None = None
) -> tuple[DocumentNode, OperationDefinitionNode]:
    """Parse (token-capped), budget, validate and cost-check; raise RequestError."""
    if document is None:
        document = _parse(op, limits)
    errors = validate(schema, document, max_errors=MAX_VALIDATION_ERRORS)
    if errors:
        raise RequestError(errors)
    operation = get_operation_ast(document, op.operation_name)
    if operation is None:
        raise bad_request(
            "name the operation to run with `operationName`"
            if op.operation_name is None
            else f"no operation named {op.operation_name!r}",
            "operationName",
        )
    return document, operation


def _wide(document: DocumentNode) -> bool:
    """More fields (fragments expanded) than validation should see on the event loop."""
    budget = _Budget(
        {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)},
        max_repeats=2**31,
    )
    return any(
        budget.selection_set(d.selection_set).fields > OFFLOAD_FIELDS
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )


async def _execute(
    schema: GraphQLSchema, document: DocumentNode, ctx: GraphQLContext, op: Operation
) -> ExecutionResult:
    result = execute(
        schema,
        document,
        context_value=ctx,
        variable_values=op.variables,
        operation_name=op.operation_name,
    )
    if isawaitable(result):
        result = await result
    return result


def _execute_in_own_loop(
    schema: GraphQLSchema, document: DocumentNode, ctx: GraphQLContext, op: Operation
) -> ExecutionResult:
    return asyncio.run(_execute(schema, document, ctx, op))


def _check_allowed(operation: OperationDefinitionNode, allowed: frozenset[OperationType]) -> None:
    if operation.operation in allowed:
        return
    if operation.operation is OperationType.SUBSCRIPTION:
        raise RequestError(
            [
                GraphQLError(
                    "subscriptions run over the WebSocket (graphql-transport-ws) on this path",
                    extensions={"code": "VALIDATION_ERROR", "details": {"field": "query"}},
                )
            ]
        )
    raise RequestError(
        [
            GraphQLError(
                f"{operation.operation.value}s are not allowed over GET; use POST",
                extensions={"code": "METHOD_NOT_ALLOWED", "details": {}},
            )
        ],
        status=405,
    )


QUERIES_AND_MUTATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})
QUERIES_ONLY = frozenset({OperationType.QUERY})


ALL_OPERATIONS = frozenset(OperationType)


async def run_operation(
    ctx: GraphQLContext,
    op: Operation,
    *,
    allowed: frozenset[OperationType] = QUERIES_AND_MUTATIONS,
) -> ExecutionResult | AsyncIterator[ExecutionResult]:
    """Run one operation. Queries and mutations give an ExecutionResult; a subscription
    (when allowed) gives an async iterator of them, or an ExecutionResult with errors.
    RequestError when the operation is refused before execution."""
    op = op.checked()
    config = ctx.runtime.config
    limits = limits_from(config)
    schema = axon_schema()
    loop = asyncio.get_running_loop()
    document: DocumentNode | None = None
    offload = len(op.query) > config.graphql_offload_bytes
    if not offload:
        document = _parse(op, limits)
        offload = _wide(document)
    if offload:
        document, operation = await loop.run_in_executor(
            _executor(), prepare, schema, op, limits, None
        )
    else:
        document, operation = prepare(schema, op, limits, document)
    _check_allowed(operation, allowed)
    if operation.operation is OperationType.SUBSCRIPTION:
        result = subscribe(
            schema,
            document,
            context_value=ctx,
            variable_values=op.variables,
            operation_name=op.operation_name,
        )
        if isawaitable(result):
            result = await result
        if isinstance(result, ExecutionResult):  # refused before streaming (e.g. NOT_FOUND)
            raise RequestError(list(result.errors or ()), status=200)
        return result
    if offload:
        return await loop.run_in_executor(
            _executor(), _execute_in_own_loop, schema, document, ctx, op
        )
    return await _execute(schema, document, ctx, op)
