"""The built-in node types (their ids and versions are part of the API contract).

One small module per family; each exposes `node_types(settings) -> list[NodeType]`.
`builtin_node_types` builds them all for one runtime.
"""

from __future__ import annotations

from ..types import NodeType
from . import data, flow, http_request, notebook, python, triggers
from ._common import NodeSettings

FAMILIES = (triggers, http_request, python, notebook, data, flow)


def builtin_node_types(settings: NodeSettings) -> list[NodeType]:
    return [nt for family in FAMILIES for nt in family.node_types(settings)]


__all__ = ["NodeSettings", "builtin_node_types"]
