"""Every MongoDB collection the adapters use, declared once as a private Beanie document.

`DOCUMENT_MODELS` lists them all; `open_mongo` hands it to `init_beanie`, which creates each
document's `Settings.indexes` at start-up (nothing else creates an index). The adapters work
on the raw PyMongo collections (`collection_of`), so the hot paths stay single driver calls;
the documents stored in most of them are the shared shapes of `adapters.documents` (the domain
dataclasses, with BSON dates and binaries) plus a string or integer `_id`, so those documents
declare only their `_id` and no field list is written twice. The two collections whose shape
exists nowhere else (`leases`, `log_state`) declare their fields here.

- `sessions`: a Session; `_id` = session_id. Lists filter on status and metadata fields and
  sort newest first on (created_at, _id); `expiry` serves the retention sweep.
- `chunks`: a ChunkRecord; `_id` = f"{session_id}:{sequence_number:013d}".
- `data_keys`: a WrappedKey; `_id` = session_id.
- `pipeline_stats`: StageFigures of one stage; `_id` = f"{session_id}:{stage}".
- `session_log`: a LogEntry; `_id` = its index; unique (session_id, type).
- `log_state`: `{_id: "anchored_size", value}`.
- `leases`: `{_id: name, owner, until}`; a TTL index on `until` removes a lease an hour after
  it expired (`until_1`, the name the index has had since leases were first stored).
- `media_progress`: a MediaProgress (the reader's state a binary); `_id` = session_id, so
  `_id_` is its unique index by session.
- `media_fragments`: a Fragment plus its `session_id`; `_id` = f"{session_id}:{index:013d}",
  so `_id_` keeps (session_id, index) unique; `session_index` reads a session's fragments in
  order. It is not declared unique too: that would check the same key twice on every write.

Index names are part of the stored schema: MongoDB refuses an index whose keys match an
existing one under another name, so a name here changes only together with a migration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

__all__ = [
    "DOCUMENT_MODELS",
    "LEASE_LINGER_SECONDS",
    "ChunkDocument",
    "DataKeyDocument",
    "LeaseDocument",
    "LogEntryDocument",
    "LogStateDocument",
    "MediaFragmentDocument",
    "MediaProgressDocument",
    "SessionDocument",
    "StageDocument",
    "collection_of",
]

NEWEST = [("created_at", DESCENDING), ("_id", DESCENDING)]

LEASE_LINGER_SECONDS = 3600
"""Lease documents are removed an hour after they expired (a replica that died leaves its
leases behind). Not sooner: the TTL monitor uses the server's clock, and a lease must never
vanish while a replica whose clock lags still holds it."""


def _newest_by(field: str) -> IndexModel:
    return IndexModel([(field, ASCENDING), *NEWEST], name=f"{field}_created_newest")


# `id` is stored as `_id` (Beanie's alias); its type is narrowed from Beanie's ObjectId.


class SessionDocument(Document):
    id: str  # type: ignore[assignment]

    class Settings:
        name = "sessions"
        indexes = [
            IndexModel(NEWEST, name="created_newest"),
            _newest_by("status"),
            _newest_by("metadata.project"),
            _newest_by("metadata.environment"),
            _newest_by("metadata.owner"),
            _newest_by("metadata.tags"),
            IndexModel(
                [("expires_at", ASCENDING)],
                name="expiry",
                partialFilterExpression={"expires_at": {"$type": "date"}},
            ),
        ]


class ChunkDocument(Document):
    id: str  # type: ignore[assignment]

    class Settings:
        name = "chunks"
        indexes = [
            IndexModel(
                [("session_id", ASCENDING), ("sequence_number", ASCENDING)],
                name="session_sequence",
                unique=True,
            ),
            IndexModel([("session_id", ASCENDING), ("timestamp", ASCENDING)], name="session_time"),
        ]


class DataKeyDocument(Document):
    id: str  # type: ignore[assignment]

    class Settings:
        name = "data_keys"


class StageDocument(Document):
    id: str  # type: ignore[assignment]

    class Settings:
        name = "pipeline_stats"
        indexes = [IndexModel([("session_id", ASCENDING)], name="session")]


class LogEntryDocument(Document):
    id: int  # type: ignore[assignment]

    class Settings:
        name = "session_log"
        indexes = [
            IndexModel([("session_id", ASCENDING), ("type", ASCENDING)], name="event", unique=True)
        ]


class LogStateDocument(Document):
    id: str  # type: ignore[assignment]
    value: int

    class Settings:
        name = "log_state"


class LeaseDocument(Document):
    id: str  # type: ignore[assignment]
    owner: str
    until: datetime

    class Settings:
        name = "leases"
        indexes = [
            IndexModel(
                [("until", ASCENDING)], name="until_1", expireAfterSeconds=LEASE_LINGER_SECONDS
            )
        ]


class MediaProgressDocument(Document):
    id: str  # type: ignore[assignment]

    class Settings:
        name = "media_progress"


class MediaFragmentDocument(Document):
    id: str  # type: ignore[assignment]

    class Settings:
        name = "media_fragments"
        indexes = [
            IndexModel([("session_id", ASCENDING), ("index", ASCENDING)], name="session_index")
        ]


DOCUMENT_MODELS: list[type[Document]] = [
    SessionDocument,
    ChunkDocument,
    DataKeyDocument,
    StageDocument,
    LogEntryDocument,
    LogStateDocument,
    LeaseDocument,
    MediaProgressDocument,
    MediaFragmentDocument,
]


def collection_of(
    database: AsyncDatabase[dict[str, Any]], document: type[Document]
) -> AsyncCollection[dict[str, Any]]:
    """`document`'s collection on `database`.

    Not `document.get_pymongo_collection()`: `init_beanie` binds each document class to one
    database for the whole process (the last one initialised), and several `open_mongo` may be
    open at once, each on its own client and database.
    """
    return database.get_collection(document.Settings.name)
