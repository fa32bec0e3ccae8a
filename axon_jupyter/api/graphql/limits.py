"""What a GraphQL document may cost before the server spends real work on it.

Three gates, cheapest first:
1. `parse(max_tokens=...)` stops the lexer on oversized documents (graphql-core).
2. `check_budget()` runs before `validate()`: one pass over the syntax tree counting
   depth, aliases, fields with fragments expanded (memoized per fragment, so a
   "fragment bomb" is counted, not expanded) and how often one response name is
   selected in one selection set, fragments merged (what the overlapping-fields rule
   compares in pairs: graphql-core's validate() takes seconds on a crafted 10-33 KB
   document of repeated fields with arguments or nested fragments). Documents past
   `graphql_offload_bytes`, or wide ones, are validated and executed off the event
   loop (execution.py).
3. `check_cost()` also runs before validation, with the schema (unknown fields cost 1):
   every field costs 1, and a list multiplies what is selected under it by its page
   size (the `limit` argument or filter, else the list's expected size).
A breach is a GraphQLError with `extensions.code` VALIDATION_ERROR and details naming
the limit; never a hang. Nothing here imports tornado.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    value_from_ast_untyped,
)
from graphql.language import DocumentNode


@dataclass(frozen=True, slots=True)
class Limits:
    max_tokens: int = 4_000
    max_depth: int = 12
    max_aliases: int = 50
    max_fields: int = 2_000  # fields counted with every fragment spread expanded
    max_repeats: int = 10  # one response name selected this often in one selection set
    max_cost: int = 20_000


def limit_error(limit: str, maximum: int, actual: int) -> GraphQLError:
    return GraphQLError(
        f"Query exceeds the {limit} limit ({actual} > {maximum})",
        extensions={
            "code": "VALIDATION_ERROR",
            "details": {"limit": limit, "max": maximum, "actual": actual},
        },
    )


# ---------------------------------------------------------------- before validation
@dataclass(slots=True)
class _Shape:
    depth: int = 0
    fields: int = 0
    # Response names selected at this level, fragments merged in: what validation's
    # overlapping-fields rule compares pairwise.
    names: Counter[str] = field(default_factory=Counter)


class _Budget:
    """Depth and expanded field count of selection sets, fragments memoized."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode], max_repeats: int):
        self.fragments = fragments
        self.max_repeats = max_repeats
        self.memo: dict[str, _Shape] = {}
        self.active: set[str] = set()  # fragment cycles: validate() reports them

    def selection_set(self, node: SelectionSetNode | None) -> _Shape:
        shape = _Shape()
        if node is None:
            return shape
        for sel in node.selections:
            if isinstance(sel, FieldNode):
                inner = self.selection_set(sel.selection_set)
                shape.depth = max(shape.depth, inner.depth + 1)
                shape.fields += inner.fields + 1
                shape.names[(sel.alias or sel.name).value] += 1
                continue
            if isinstance(sel, InlineFragmentNode):
                inner = self.selection_set(sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode):
                inner = self.fragment(sel.name.value)
            else:
                continue
            shape.depth = max(shape.depth, inner.depth)
            shape.fields += inner.fields
            shape.names.update(inner.names)
        if shape.names:
            _, count = shape.names.most_common(1)[0]
            if count > self.max_repeats:
                raise limit_error("repeated field", self.max_repeats, count)
        return shape

    def fragment(self, name: str) -> _Shape:
        if name in self.memo:
            return self.memo[name]
        frag = self.fragments.get(name)
        if frag is None or name in self.active:
            return _Shape()
        self.active.add(name)
        shape = self.selection_set(frag.selection_set)
        self.active.discard(name)
        self.memo[name] = shape
        return shape


def check_budget(document: DocumentNode, limits: Limits) -> None:
    """Raise a limit error for a document too deep, too wide or too aliased."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    budget = _Budget(fragments, limits.max_repeats)
    aliases = 0
    stack: list[Any] = [document]
    while stack:  # aliases as written (each fragment once), iteratively
        node = stack.pop()
        if isinstance(node, FieldNode) and node.alias is not None:
            aliases += 1
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
        definitions = getattr(node, "definitions", None)
        if definitions is not None:
            stack.extend(definitions)
    if aliases > limits.max_aliases:
        raise limit_error("alias", limits.max_aliases, aliases)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            shape = budget.selection_set(definition.selection_set)
            if shape.depth > limits.max_depth:
                raise limit_error("depth", limits.max_depth, shape.depth)
            if shape.fields > limits.max_fields:
                raise limit_error("field", limits.max_fields, shape.fields)


# ---------------------------------------------------------------- after validation
# Expected sizes of lists that take no page size: (parent type, field) -> items.
LIST_SIZES: dict[tuple[str, str], int] = {
    ("Query", "nodes"): 100,
    ("WorkflowDefinition", "nodes"): 100,
    ("WorkflowDefinition", "connections"): 100,
    ("Execution", "nodes"): 100,
}
DEFAULT_LIST_SIZE = 10
MAX_PAGE = 100


def _unwrap(type_: Any) -> tuple[Any, bool]:
    is_list = False
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        if isinstance(type_, GraphQLList):
            is_list = True
        type_ = type_.of_type
    return type_, is_list


def _page_size(field: FieldNode, variables: dict[str, Any]) -> int | None:
    """The `limit` argument, or `filter: {limit}`, when the query gives one."""
    for arg in field.arguments or ():
        value = value_from_ast_untyped(arg.value, variables)
        if arg.name.value == "limit" and isinstance(value, int):
            return value
        if arg.name.value == "filter" and isinstance(value, dict):
            limit = value.get("limit")
            if isinstance(limit, int):
                return limit
    return None


class _Cost:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any]):
        self.schema = schema
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.memo: dict[str, int] = {}

    def selection_set(self, node: SelectionSetNode | None, parent: Any) -> int:
        if node is None or not isinstance(parent, GraphQLObjectType):
            return 0
        total = 0
        for sel in node.selections:
            if isinstance(sel, FieldNode):
                total += self.field(sel, parent)
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition
                target = self.schema.get_type(cond.name.value) if cond else parent
                total += self.selection_set(sel.selection_set, target)
            elif isinstance(sel, FragmentSpreadNode):
                total += self.fragment(sel.name.value)
        return total

    def field(self, node: FieldNode, parent: GraphQLObjectType) -> int:
        definition = parent.fields.get(node.name.value)
        if definition is None:  # __typename and introspection meta fields
            return 1
        named, is_list = _unwrap(definition.type)
        inner = self.selection_set(node.selection_set, named)
        if not is_list:
            return 1 + inner
        size = _page_size(node, self.variables)
        if size is None:
            size = LIST_SIZES.get((parent.name, node.name.value), DEFAULT_LIST_SIZE)
        return 1 + max(1, min(size, MAX_PAGE)) * inner

    def fragment(self, name: str) -> int:
        if name not in self.memo:
            frag = self.fragments.get(name)
            self.memo[name] = 0  # unknown fragments and cycles: validate() reports them
            if frag is not None:
                self.memo[name] = self.selection_set(
                    frag.selection_set, self.schema.get_type(frag.type_condition.name.value)
                )
        return self.memo[name]


def estimate_cost(
    schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any] | None
) -> int:
    """The most expensive operation of the document. Tolerant of invalid documents (an
    unknown field costs 1), so it can run before validation."""
    roots = {
        "query": schema.query_type,
        "mutation": schema.mutation_type,
        "subscription": schema.subscription_type,
    }
    cost = _Cost(schema, document, variables or {})
    return max(
        (
            cost.selection_set(d.selection_set, roots[d.operation.value])
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
        ),
        default=0,
    )


def check_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: dict[str, Any] | None,
    limits: Limits,
) -> int:
    cost = estimate_cost(schema, document, variables)
    if cost > limits.max_cost:
        raise limit_error("cost", limits.max_cost, cost)
    return cost
