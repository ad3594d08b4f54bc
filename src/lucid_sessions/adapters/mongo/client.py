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
    LogEntryDocument,
    LogStateDocument,
    SessionDocument,
    StageDocument,
)
from lucid_sessions.adapters.mongo.errors import UNAVAILABLE, redact_url
from lucid_sessions.adapters.mongo.health_probe import MongoHealthProbe
from lucid_sessions.adapters.mongo.leases import MongoLeases
from lucid_sessions.adapters.mongo.pipeline_stats import MongoPipelineStats
from lucid_sessions.adapters.mongo.session_log import MongoSessionLog
from lucid_sessions.adapters.mongo.session_repository import MongoSessionRepository
from lucid_sessions.domain.errors import InvalidValue, StorageUnavailable

__all__ = ["DEFAULT_DATABASE", "MongoStores", "open_mongo"]

DEFAULT_DATABASE = "lucid"
LEASES = "leases"  # MongoLeases: {_id: name, owner, until}


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
    `lucid`. `init_beanie` runs once here: it binds the document classes to this database and
    creates the indexes; the adapters then work on this database's collections, so several
    `open_mongo` may be open in one process (tests reopen a database this way).

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
        collection = database.get_collection
        leases = MongoLeases(collection(LEASES))
        try:
            await init_beanie(database=database, document_models=DOCUMENT_MODELS)
            await leases.create_indexes()
        except UNAVAILABLE as exc:
            raise StorageUnavailable(
                f"MongoDB at {where} cannot be reached: {type(exc).__name__}: {exc}"
            ) from exc
        except PyMongoError as exc:  # authentication, authorisation, conflicting indexes...
            raise StorageUnavailable(
                f"MongoDB at {where} refused the start-up: {type(exc).__name__}: {exc}"
            ) from exc
        yield MongoStores(
            sessions=MongoSessionRepository(collection(SessionDocument.Settings.name)),
            chunks=MongoChunkIndex(collection(ChunkDocument.Settings.name)),
            data_keys=MongoDataKeyStore(collection(DataKeyDocument.Settings.name)),
            pipeline_stats=MongoPipelineStats(collection(StageDocument.Settings.name)),
            health=MongoHealthProbe(client),
            session_log=MongoSessionLog(
                collection(LogEntryDocument.Settings.name),
                collection(LogStateDocument.Settings.name),
            ),
            leases=leases,
            database_name=database.name,
        )
    finally:
        await client.close()
