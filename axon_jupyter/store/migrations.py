"""Numbered schema migrations, tracked in `PRAGMA user_version`.

Files in migrations/ are named `NNN_what.sql` and applied in order, each in its own
transaction together with the version bump, so a crash mid-upgrade leaves the database
at the last complete version. A fresh database and an upgraded one end identical.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import NamedTuple

import aiosqlite

_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


class Migration(NamedTuple):
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    found = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort()
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 001.. without gaps, found {versions}")
    return found


async def current_version(conn: aiosqlite.Connection) -> int:
    rows = await conn.execute_fetchall("PRAGMA user_version")
    return int(next(iter(rows))[0])


async def migrate(conn: aiosqlite.Connection, target: int | None = None) -> int:
    """Apply pending migrations up to `target` (all by default); return the new version."""
    migrations = load_migrations()
    newest = migrations[-1].version if migrations else 0
    target = newest if target is None else target
    version = await current_version(conn)
    if version > newest:
        raise RuntimeError(
            f"database schema version {version} is newer than this Axon ({newest}); upgrade Axon"
        )
    for mig in migrations:
        if version < mig.version <= target:
            # executescript commits first, so the migration runs inside an explicit
            # transaction written into the script itself.
            await conn.executescript(
                f"BEGIN IMMEDIATE;\n{mig.sql}\nPRAGMA user_version = {mig.version};\nCOMMIT;"
            )
            version = mig.version
    return version
