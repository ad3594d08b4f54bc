"""The embedded default store: SQLite (stdlib sqlite3, WAL), every call off the event loop."""

from lucid_sessions.adapters.sqlite.chunks import (
    SqliteChunkIndex,
    SqliteDataKeyStore,
    SqlitePipelineStats,
)
from lucid_sessions.adapters.sqlite.database import SqliteDatabase
from lucid_sessions.adapters.sqlite.sessions import SqliteSessionRepository

__all__ = [
    "SqliteChunkIndex",
    "SqliteDataKeyStore",
    "SqliteDatabase",
    "SqlitePipelineStats",
    "SqliteSessionRepository",
]
