"""The whole REST surface in one place: every module's route table, under /axon/v1."""

from __future__ import annotations

from importlib import import_module

from jupyter_server.utils import url_path_join

API_PREFIX = "/axon/v1"

# Modules whose `routes` list is mounted; each owns one resource.
ROUTE_MODULES = (
    "axon_jupyter.api.rest.meta",
    "axon_jupyter.api.rest.auth",
    "axon_jupyter.api.rest.api_keys",
    "axon_jupyter.api.rest.workflows",
    "axon_jupyter.api.rest.oauth",
    "axon_jupyter.api.rest.executions",
    "axon_jupyter.api.rest.nodes",
    "axon_jupyter.api.ws",
    "axon_jupyter.api.graphql.handlers",
)


def rest_routes() -> list[tuple[str, type]]:
    """(path relative to the API prefix, handler class) for every REST route."""
    table: list[tuple[str, type]] = []
    for name in ROUTE_MODULES:
        table.extend(import_module(name).routes)
    return table


def handlers() -> list[tuple[str, type]]:
    from .base import NotFoundHandler

    mounted = [(url_path_join(API_PREFIX, path), handler) for path, handler in rest_routes()]
    mounted.append((url_path_join(API_PREFIX, r"(.*)"), NotFoundHandler))
    # A module may also mount a few routes at the server root (`root_routes`, relative
    # to base_url), e.g. /.well-known/oauth-authorization-server.
    for name in ROUTE_MODULES:
        mounted.extend(getattr(import_module(name), "root_routes", []))
    return mounted
