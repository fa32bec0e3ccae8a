"""The executable schema: schema.graphql (SDL) with the resolvers of resolvers.py bound.

Fields without an explicit resolver read the attribute or key of the parent value, by
the field's own name first (`sourcePort` in a stored definition) and then its
snake_case form (`createdAt` -> `created_at`), so models and the REST dicts serve as
they are. Built once, on first use: servers that never see GraphQL never load it.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from importlib import resources
from typing import Any

from graphql import (
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    build_schema,
    value_from_ast_untyped,
)

from ...models import iso
from . import resolvers

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_MISSING = object()


def snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def _reader(*names: str):
    def resolve(parent: Any, _info: GraphQLResolveInfo, **_: Any) -> Any:
        for name in names:
            value = (
                parent.get(name, _MISSING)
                if isinstance(parent, dict)
                else getattr(parent, name, _MISSING)
            )
            if value is not _MISSING:
                return value
        return None

    return resolve


def _payload(value: Any, _info: GraphQLResolveInfo, **_: Any) -> Any:
    return value


def _serialize_datetime(value: Any) -> str:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"DateTime cannot represent {value!r}")


def _json_literal(node: Any, variables: Any = None) -> Any:
    return value_from_ast_untyped(node, variables)


def _scalar(schema: GraphQLSchema, name: str, output: Any, parse: Any, literal: Any) -> None:
    """Give a scalar built from SDL its coercions: graphql-core 3.3 reads the
    `coerce_*` attributes, 3.2 the `serialize`/`parse_*` ones; set both."""
    scalar = schema.type_map[name]
    scalar.serialize = output  # type: ignore[method-assign]
    scalar.parse_value = parse  # type: ignore[method-assign]
    scalar.parse_literal = literal  # type: ignore[method-assign]
    if hasattr(scalar, "coerce_output_value"):
        scalar.coerce_output_value = output
        scalar.coerce_input_value = parse
        scalar.coerce_input_literal = literal


def _as_is(value: Any) -> Any:
    return value


def _datetime_input(value: Any) -> Any:
    if not isinstance(value, str):
        raise TypeError("DateTime takes an RFC 3339 string")
    return value


def _datetime_literal(node: Any, variables: Any = None) -> Any:
    return _datetime_input(value_from_ast_untyped(node, variables))


def _bind(schema: GraphQLSchema) -> GraphQLSchema:
    _scalar(schema, "JSON", _as_is, _as_is, _json_literal)
    _scalar(schema, "DateTime", _serialize_datetime, _datetime_input, _datetime_literal)

    for type_name, gql_type in schema.type_map.items():
        if type_name.startswith("__") or not isinstance(gql_type, GraphQLObjectType):
            continue
        explicit = resolvers.FIELDS.get(type_name, {})
        for field_name, field in gql_type.fields.items():
            if type_name == "Subscription":
                # The source stream yields the payload itself.
                field.subscribe = resolvers.SUBSCRIPTION[field_name]
                field.resolve = _payload
            elif field_name in explicit:
                field.resolve = explicit[field_name]
            else:
                renamed = resolvers.RENAMED.get((type_name, field_name))
                names = (renamed,) if renamed else (field_name, snake(field_name))
                field.resolve = _reader(*dict.fromkeys(names))
    return schema


@functools.cache
def axon_schema() -> GraphQLSchema:
    sdl = resources.files(__package__).joinpath("schema.graphql").read_text("utf-8")
    return _bind(build_schema(sdl))
