"""Persistence behind one async interface (`Store`); SQLite is the embedded default."""

from .base import Store
from .sqlite import SqliteStore, open_store

__all__ = ["SqliteStore", "Store", "open_store"]
