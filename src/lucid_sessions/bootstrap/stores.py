"""Opening the persistence adapters the settings select (part of the composition root).

MONGODB_URL set: every persistence port on MongoDB (Beanie); otherwise the embedded SQLite
store under LUCID_STORAGE_PATH. REDIS_URL set: the Redis session cache, open beside them (the
container puts it in front of the session repository). An adapter's modules are imported
only when the settings select it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import anyio.to_thread

from lucid_sessions.adapters.system.local_leases import LocalLeases
from lucid_sessions.bootstrap.settings import Settings
from lucid_sessions.domain.ports.chunk_index import ChunkIndex
from lucid_sessions.domain.ports.data_key_store import DataKeyStore
from lucid_sessions.domain.ports.health_probe import HealthProbe
from lucid_sessions.domain.ports.leases import Leases
from lucid_sessions.domain.ports.media_index import MediaIndex
from lucid_sessions.domain.ports.pipeline_stats import PipelineStats
from lucid_sessions.domain.ports.session_cache import SessionCache
from lucid_sessions.domain.ports.session_log import SessionLog
from lucid_sessions.domain.ports.session_repository import SessionRepository

__all__ = ["Stores", "open_stores"]


@dataclass(frozen=True, slots=True)
class Stores:
    kind: str
    sessions: SessionRepository
    chunks: ChunkIndex
    data_keys: DataKeyStore
    pipeline_stats: PipelineStats
    database: HealthProbe
    cache: SessionCache | None
    """Open when REDIS_URL is set; `sessions` is the store's own repository, uncached."""
    session_log: SessionLog
    leases: Leases
    """Shared by every replica on MongoDB; one process's own on the embedded store."""
    media: MediaIndex
    """Playback's media index of each session's recording."""


@asynccontextmanager
async def _mongo(url: str) -> AsyncIterator[Stores]:
    from lucid_sessions.adapters.mongo import open_mongo

    async with open_mongo(url) as mongo:
        yield Stores(
            "mongodb",
            mongo.sessions,
            mongo.chunks,
            mongo.data_keys,
            mongo.pipeline_stats,
            mongo.health,
            None,
            mongo.session_log,
            mongo.leases,
            mongo.media,
        )


@asynccontextmanager
async def _sqlite(folder: Path, create: bool) -> AsyncIterator[Stores]:
    from lucid_sessions.adapters.sqlite import (
        SqliteChunkIndex,
        SqliteDatabase,
        SqliteDataKeyStore,
        SqliteMediaIndex,
        SqlitePipelineStats,
        SqliteSessionLog,
        SqliteSessionRepository,
    )

    database = SqliteDatabase(folder / "sessions.sqlite3")
    await anyio.to_thread.run_sync(lambda: database.open(create=create))
    try:
        yield Stores(
            "sqlite",
            SqliteSessionRepository(database),
            SqliteChunkIndex(database),
            SqliteDataKeyStore(database),
            SqlitePipelineStats(database),
            database,
            None,
            SqliteSessionLog(database),
            LocalLeases(),
            SqliteMediaIndex(database),
        )
    finally:
        await anyio.to_thread.run_sync(database.close)


@asynccontextmanager
async def _with_cache(stores: Stores, url: str) -> AsyncIterator[Stores]:
    from lucid_sessions.adapters.redis import open_redis_cache

    async with open_redis_cache(url) as cache:
        yield replace(stores, kind=f"{stores.kind}+redis", cache=cache)


@asynccontextmanager
async def open_stores(settings: Settings, *, create: bool = True) -> AsyncIterator[Stores]:
    """The selected stores, open until the block ends; `create=False` refuses to make an
    empty embedded store."""
    metadata = (
        _mongo(settings.mongodb_url)
        if settings.mongodb_url
        else _sqlite(Path(settings.storage_path), create)
    )
    async with metadata as stores:
        if not settings.redis_url:
            yield stores
            return
        async with _with_cache(stores, settings.redis_url) as cached:
            yield cached
