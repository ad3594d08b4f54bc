"""open_mongo: the MongoDB client's life cycle and Beanie's initialisation, as one resource."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from beanie import init_beanie
from pymongo import AsyncMongoClient
from pymongo.errors import ConfigurationError, PyMongoError

from lucid_sessions.adapters.mongo.chunk_index import MongoChunkIndex
from lucid_sessions.adapters.mongo.data_key_store import MongoDataKeyStore
from lucid_sessions.adapters.mongo.documents import (
    DOCUMENT_MODELS,
    ChunkDocument,
    DataKeyDocument,
    LeaseDocument,
    LogEntryDocument,
    LogStateDocument,
    MediaFragmentDocument,
    MediaProgressDocument,
    SessionDocument,
    StageDocument,
    collection_of,
)
from lucid_sessions.adapters.mongo.errors import UNAVAILABLE, redact_url
from lucid_sessions.adapters.mongo.health_probe import MongoHealthProbe
from lucid_sessions.adapters.mongo.leases import MongoLeases
from lucid_sessions.adapters.mongo.media_index import MongoMediaIndex
from lucid_sessions.adapters.mongo.pipeline_stats import MongoPipelineStats
from lucid_sessions.adapters.mongo.session_log import MongoSessionLog
from lucid_sessions.adapters.mongo.session_repository import MongoSessionRepository
from lucid_sessions.domain.errors import InvalidValue, StorageUnavailable

__all__ = ["DEFAULT_DATABASE", "MongoStores", "open_mongo"]

DEFAULT_DATABASE = "lucid"
# The shape of the stored documents, stamped in the database (collection `lucid_schema`) so
# that a version older than the data refuses it instead of rewriting documents without the
# fields it does not know. 1: sessions carry `manifest_key_id` (signing keys rotate).
SCHEMA_VERSION = 1
SCHEMA_COLLECTION = "lucid_schema"


@dataclass(frozen=True, slots=True)
class MongoStores:
    """Every persistence port on one MongoDB database."""

    sessions: MongoSessionRepository
    chunks: MongoChunkIndex
    data_keys: MongoDataKeyStore
    pipeline_stats: MongoPipelineStats
    health: MongoHealthProbe
    session_log: MongoSessionLog
    leases: MongoLeases
    media: MongoMediaIndex
    database_name: str


def _client_options(url: str, server_selection_ms: int, socket_ms: int) -> dict[str, Any]:
    """Short timeouts unless the URL sets its own (URL options win)."""
    given = {key.lower() for key, _ in parse_qsl(urlsplit(url).query)}
    defaults = {
        "serverSelectionTimeoutMS": server_selection_ms,
        "connectTimeoutMS": min(server_selection_ms, 5000),
        "socketTimeoutMS": socket_ms,
    }
    options: dict[str, Any] = {k: v for k, v in defaults.items() if k.lower() not in given}
    return {"tz_aware": True, "appname": "lucid-sessions", **options}


async def _stamp_schema(database: Any, where: str) -> None:
    """Refuse a database stamped by a newer version (`SchemaTooNew`); stamp this version
    otherwise (never lowering a stamp another replica set)."""
    schema = database[SCHEMA_COLLECTION]
    try:
        found = await schema.find_one({"_id": "schema"})
        stored = int(found.get("version", 0)) if found else 0
        if stored > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"MongoDB at {where} holds data of schema version {stored}, newer than this "
                f"version of lucid-sessions knows ({SCHEMA_VERSION}); run the newer version, or "
                "restore the backup taken before the upgrade. Nothing was changed"
            )
        await schema.update_one(
            {"_id": "schema"}, {"$max": {"version": SCHEMA_VERSION}}, upsert=True
        )
    except PyMongoError as exc:
        raise StorageUnavailable(
            f"MongoDB at {where} refused the start-up: {type(exc).__name__}: {exc}"
        ) from exc


class SchemaTooNew(StorageUnavailable):
    """The database was written by a newer version: this one must not touch it."""


@asynccontextmanager
async def open_mongo(
    url: str,
    *,
    server_selection_timeout_ms: int = 5000,
    socket_timeout_ms: int = 10_000,
) -> AsyncIterator[MongoStores]:
    """Yield the MongoDB stores for `url`; close the client on exit.

    Entry point for MONGODB_URL (opened by `bootstrap.stores` when it is set): `sessions`,
    `chunks`, `data_keys` and `pipeline_stats` replace the SQLite adapters, and `health` is the
    `database` check of /health. The database is the URL's path (`mongodb://h/lucid_prod`), or
    `lucid`. `init_beanie` runs once here, on every document of `documents.DOCUMENT_MODELS`
    (leases included): it creates their declared indexes, and binds the document classes to
    this database process-wide. The adapters therefore take this database's collections
    (`documents.collection_of`), not the classes' bound ones, so several `open_mongo` may be
    open in one process, each on its own database (tests reopen a database this way).

    Raises StorageUnavailable (naming the URL without credentials) when MongoDB cannot be
    reached within `server_selection_timeout_ms` or refuses the start-up (authentication,
    conflicting indexes), and InvalidValue("MONGODB_URL", ...) for a malformed URL: in
    production either stops start-up with a clear message. At run time, an unreachable
    MongoDB makes each call raise StorageUnavailable after at most that long (503), and the
    same client recovers by itself.
    """
    where = redact_url(url)
    try:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            url, **_client_options(url, server_selection_timeout_ms, socket_timeout_ms)
        )
    except (ConfigurationError, ValueError) as exc:  # messages never echo the password
        raise InvalidValue("MONGODB_URL", f"not a usable MongoDB URL ({exc})") from exc
    try:
        database = client.get_default_database(default=DEFAULT_DATABASE)
        try:
            await init_beanie(database=database, document_models=DOCUMENT_MODELS)
        except UNAVAILABLE as exc:
            raise StorageUnavailable(
                f"MongoDB at {where} cannot be reached: {type(exc).__name__}: {exc}"
            ) from exc
        except PyMongoError as exc:  # authentication, authorisation, conflicting indexes...
            raise StorageUnavailable(
                f"MongoDB at {where} refused the start-up: {type(exc).__name__}: {exc}"
            ) from exc
        await _stamp_schema(database, where)
        yield MongoStores(
            sessions=MongoSessionRepository(collection_of(database, SessionDocument)),
            chunks=MongoChunkIndex(collection_of(database, ChunkDocument)),
            data_keys=MongoDataKeyStore(collection_of(database, DataKeyDocument)),
            pipeline_stats=MongoPipelineStats(collection_of(database, StageDocument)),
            health=MongoHealthProbe(client),
            session_log=MongoSessionLog(
                collection_of(database, LogEntryDocument), collection_of(database, LogStateDocument)
            ),
            leases=MongoLeases(collection_of(database, LeaseDocument)),
            media=MongoMediaIndex(
                collection_of(database, MediaProgressDocument),
                collection_of(database, MediaFragmentDocument),
            ),
            database_name=database.name,
        )
    finally:
        await client.close()
