"""Node types for clients: list, get, versions, and registering custom Python nodes.

The catalog (nodes/catalog.py) knows what exists and who sees it; this service reads
the request's fields strictly and applies the `code_nodes` policy to registration. The
`nodes:write` scope is the transport's check; the policy is a rule, so it lives here.
"""

from __future__ import annotations

from typing import Any

from ..auth.identity import Principal
from ..nodes.catalog import NodeCatalog
from ..nodes.custom import CODE_POLICIES, parse_registration, require_code_permission
from ..nodes.types import NodeType
from .inputs import invalid


def _query(value: str | None, field: str, max_len: int = 200) -> str | None:
    if value is None or value == "":
        return None
    if len(value) > max_len:
        raise invalid(field, f"must be at most {max_len} characters")
    return value


def _flag(value: str | None, field: str) -> bool | None:
    if value is None or value == "":
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise invalid(field, "must be true or false")


class NodeService:
    def __init__(self, catalog: NodeCatalog, code_policy: str = "owner"):
        if code_policy not in CODE_POLICIES:
            raise ValueError(f"code_nodes must be one of {', '.join(CODE_POLICIES)}")
        self.catalog = catalog
        self.code_policy = code_policy

    async def list(
        self,
        principal: Principal,
        *,
        category: str | None = None,
        search: str | None = None,
        version: str | None = None,
        builtin: str | None = None,
    ) -> list[NodeType]:
        return await self.catalog.list(
            principal.user_id,
            category=_query(category, "category", 50),
            search=_query(search, "search"),
            version=_query(version, "version", 64),
            builtin=_flag(builtin, "builtin"),
        )

    async def get(self, principal: Principal, node_id: str, version: str | None = None) -> NodeType:
        return await self.catalog.get(principal.user_id, node_id, _query(version, "version", 64))

    async def versions(self, principal: Principal, node_id: str) -> list[NodeType]:
        return await self.catalog.versions(principal.user_id, node_id)

    async def register(self, principal: Principal, body: Any) -> NodeType:
        """Register a custom node version from Python source (201; 409 on a clash)."""
        require_code_permission(self.code_policy, principal)
        nt = parse_registration(body, principal.user_id)
        return await self.catalog.register(nt)
