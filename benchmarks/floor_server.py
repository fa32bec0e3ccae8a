"""The floor for benchmarks/api.py: a bare tornado handler serving the same rows.

No auth, no envelope, no Jupyter: one aiosqlite connection, the same query shape and
the same JSON as Axon's `GET /workflows?limit=50`. Axon's figure is read against this.
"""

from __future__ import annotations

import asyncio
import json
import sys

import aiosqlite
import tornado.web

QUERY = (
    "SELECT id, name, description, status, node_count, execution_count, version, "
    "created_at, updated_at, COUNT(*) OVER () FROM workflows WHERE user_id = ? "
    "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
)


class ListHandler(tornado.web.RequestHandler):
    async def get(self) -> None:
        db: aiosqlite.Connection = self.settings["db"]
        limit = int(self.get_query_argument("limit", "10"))
        rows = await db.execute_fetchall(QUERY, (self.settings["user_id"], limit, 0))
        items = [
            {
                "id": r[0],
                "name": r[1],
                "description": r[2],
                "status": r[3],
                "node_count": r[4],
                "execution_count": r[5],
                "version": r[6],
                "created_at": r[7],
                "updated_at": r[8],
            }
            for r in rows
        ]
        total = rows[0][9] if rows else 0
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"workflows": items, "pagination": {"total": total}}))


async def main(db_path: str, user_id: str, port: int) -> None:
    db = await aiosqlite.connect(db_path)
    app = tornado.web.Application([(r"/workflows", ListHandler)], db=db, user_id=user_id)
    app.listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
