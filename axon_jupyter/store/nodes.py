"""SQLite persistence of custom node types (`node_types`, migration 002), as a mixin.

Mixed into SqliteStore, it uses the store's primitives (`_read`, `_write`). Rows are
immutable once written: a new version is a new row, and the primary key
(user_id, id, version) turns a duplicate version into `errors.Conflict`. Built-in types
live in code and never touch this table. Lookups take the owner's id: another user's
node type is indistinguishable from a missing one.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from ..models import from_epoch
from ..nodes.types import NodeType, Port

_COLS = (
    "id, version, user_id, name, description, category, inputs, outputs, config_schema, "
    "code, code_hash, created_at"
)
_IN_CHUNK = 500  # well under SQLite's bound-parameter limit


def _ports(text: str) -> list[Port]:
    return [Port(**p) for p in json.loads(text)]


def _node_type(row: Any) -> NodeType:
    return NodeType(
        id=row[0],
        version=row[1],
        owner_id=row[2],
        name=row[3],
        description=row[4],
        category=row[5],
        inputs=_ports(row[6]),
        outputs=_ports(row[7]),
        config_schema=json.loads(row[8]),
        builtin=False,
        execution="process",
        code=row[9],
        code_hash=row[10],
        created_at=from_epoch(row[11]),
    )


class NodeStore:
    """The node-type part of the store (see Store for the contract)."""

    async def create_node_type(self, nt: NodeType) -> None:
        await self._write(  # type: ignore[attr-defined]
            f"INSERT INTO node_types ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                nt.id,
                nt.version,
                nt.owner_id,
                nt.name,
                nt.description,
                nt.category,
                json.dumps([p.to_api() for p in nt.inputs]),
                json.dumps([p.to_api() for p in nt.outputs]),
                json.dumps(nt.config_schema),
                nt.code,
                nt.code_hash,
                nt.created_at.timestamp() if nt.created_at else None,
            ),
        )

    async def list_node_types(
        self, user_id: str, ids: Collection[str] | None = None
    ) -> list[NodeType]:
        if ids is None:
            rows = await self._read(  # type: ignore[attr-defined]
                f"SELECT {_COLS} FROM node_types WHERE user_id = ? ORDER BY id, created_at",
                (user_id,),
            )
            return [_node_type(r) for r in rows]
        wanted = sorted(set(ids))
        out: list[NodeType] = []
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            rows = await self._read(  # type: ignore[attr-defined]
                f"SELECT {_COLS} FROM node_types WHERE user_id = ? AND id IN "
                f"({', '.join('?' * len(chunk))}) ORDER BY id, created_at",
                (user_id, *chunk),
            )
            out.extend(_node_type(r) for r in rows)
        return out
