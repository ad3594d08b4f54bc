"""The embedded default store: SQLite (stdlib sqlite3, WAL), every call off the event loop."""

from lucid_sessions.adapters.sqlite.chunk_index import SqliteChunkIndex
from lucid_sessions.adapters.sqlite.data_key_store import SqliteDataKeyStore
from lucid_sessions.adapters.sqlite.database import SqliteDatabase
from lucid_sessions.adapters.sqlite.media_index import SqliteMediaIndex
from lucid_sessions.adapters.sqlite.pipeline_stats import SqlitePipelineStats
from lucid_sessions.adapters.sqlite.session_log import SqliteSessionLog
from lucid_sessions.adapters.sqlite.session_repository import SqliteSessionRepository

__all__ = [
    "SqliteChunkIndex",
    "SqliteDataKeyStore",
    "SqliteDatabase",
    "SqliteMediaIndex",
    "SqlitePipelineStats",
    "SqliteSessionLog",
    "SqliteSessionRepository",
]
