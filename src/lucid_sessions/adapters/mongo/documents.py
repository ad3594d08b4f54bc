"""The MongoDB collections and their indexes, declared as private Beanie documents.

Beanie creates the collections' indexes at start-up (`open_mongo`). The documents stored in
them are the shared shapes of `adapters.documents` (the domain dataclasses, with BSON dates
and binaries), plus a string `_id`; the adapters read and write them through the collections
(`Document.get_pymongo_collection()`), so no field list is declared twice.

- `sessions`: a Session; `_id` = session_id. Lists filter on status and metadata fields and
  sort newest first on (created_at, _id).
- `chunks`: a ChunkRecord; `_id` = f"{session_id}:{sequence_number:013d}".
- `data_keys`: a WrappedKey; `_id` = session_id.
- `pipeline_stats`: StageFigures of one stage; `_id` = f"{session_id}:{stage}".
- `session_log`: a LogEntry; `_id` = its index; unique (session_id, type).
- `log_state`: `{_id: "anchored_size", value}`.
"""

from __future__ import annotations

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

__all__ = [
    "DOCUMENT_MODELS",
    "ChunkDocument",
    "DataKeyDocument",
    "LogEntryDocument",
    "LogStateDocument",
    "SessionDocument",
    "StageDocument",
]

NEWEST = [("created_at", DESCENDING), ("_id", DESCENDING)]


def _newest_by(field: str) -> IndexModel:
    return IndexModel([(field, ASCENDING), *NEWEST], name=f"{field}_created_newest")


class SessionDocument(Document):
    id: str = Field(alias="_id")  # type: ignore[assignment]

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
    id: str = Field(alias="_id")  # type: ignore[assignment]

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
    id: str = Field(alias="_id")  # type: ignore[assignment]

    class Settings:
        name = "data_keys"


class LogEntryDocument(Document):
    id: int = Field(alias="_id")  # type: ignore[assignment]

    class Settings:
        name = "session_log"
        indexes = [
            IndexModel([("session_id", ASCENDING), ("type", ASCENDING)], name="event", unique=True)
        ]


class LogStateDocument(Document):
    id: str = Field(alias="_id")  # type: ignore[assignment]

    class Settings:
        name = "log_state"


class StageDocument(Document):
    id: str = Field(alias="_id")  # type: ignore[assignment]

    class Settings:
        name = "pipeline_stats"
        indexes = [IndexModel([("session_id", ASCENDING)], name="session")]


DOCUMENT_MODELS: list[type[Document]] = [
    SessionDocument,
    ChunkDocument,
    DataKeyDocument,
    StageDocument,
    LogEntryDocument,
    LogStateDocument,
]
