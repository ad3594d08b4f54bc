"""The embedded default store: SQLite (stdlib sqlite3, WAL), every call off the event loop."""

from lucid_sessions.adapters.sqlite.database import SqliteDatabase
from lucid_sessions.adapters.sqlite.sessions import SqliteSessionRepository

__all__ = ["SqliteDatabase", "SqliteSessionRepository"]
