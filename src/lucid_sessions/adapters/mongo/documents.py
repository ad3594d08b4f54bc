"""Private Beanie documents: the MongoDB storage schema (never the domain model).

Collections: `sessions`, `chunks`, `data_keys`, `pipeline_stats`. Every `_id` is a string.
Datetimes are BSON dates (UTC, millisecond precision); the sub-millisecond rest of each is kept
in `micros` (sessions) or in an exact integer (`created_us`, `timestamp_us`: microseconds since
the epoch), which is also what lists sort and filter on, so round trips are exact.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

__all__ = [
    "DOCUMENT_MODELS",
    "ChunkDocument",
    "DataKeyDocument",
    "SessionDocument",
    "StageDocument",
]

_NEWEST = [("created_us", DESCENDING), ("_id", DESCENDING)]


def _newest_by(field: str) -> IndexModel:
    return IndexModel([(field, ASCENDING), *_NEWEST], name=f"{field}_newest")


class SessionDocument(Document):
    """A session: the session_codec fields, datetimes as BSON dates, `_id` = session_id."""

    id: str = Field(alias="_id")  # type: ignore[assignment]
    schema_version: int
    version: int
    name: str
    description: str | None = None
    rdp_config: dict[str, Any]
    recording_config: dict[str, Any]
    storage_config: dict[str, Any]
    metadata: dict[str, Any]  # project, environment, owner, tags: filtered and indexed
    status: str
    created_at: datetime
    created_us: int
    updated_at: datetime | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    completed_at: datetime | None = None
    paused_at: datetime | None = None
    finalized_at: datetime | None = None
    micros: dict[str, int] = Field(default_factory=dict)
    paused_seconds: float = 0.0
    chunks_count: int = 0
    size_bytes: int = 0
    stored_bytes: int = 0
    frame_count: int = 0
    recorded_seconds: float = 0.0
    merkle_frontier: list[str] = Field(default_factory=list)
    merkle_root: str | None = None
    pipeline_paused: bool = False
    error: str | None = None
    manifest_signature: str | None = None
    manifest_public_key: str | None = None

    class Settings:
        name = "sessions"
        indexes = [
            IndexModel(_NEWEST, name="newest"),
            _newest_by("status"),
            _newest_by("metadata.project"),
            _newest_by("metadata.environment"),
            _newest_by("metadata.owner"),
            _newest_by("metadata.tags"),
        ]


class ChunkDocument(Document):
    """A chunk's metadata; `_id` = f"{session_id}:{sequence_number:013d}"."""

    id: str = Field(alias="_id")  # type: ignore[assignment]
    session_id: str
    sequence_number: int
    blake3: bytes
    leaf_hash: bytes
    size_bytes: int
    stored_size_bytes: int
    timestamp: datetime
    timestamp_us: int
    compression: str
    compression_ratio: float
    encrypted: bool
    cipher: str | None = None
    duration_seconds: float | None = None
    frame_count: int | None = None

    class Settings:
        name = "chunks"
        indexes = [
            IndexModel(
                [("session_id", ASCENDING), ("sequence_number", ASCENDING)],
                name="session_sequence",
                unique=True,
            ),
            IndexModel([("session_id", ASCENDING), ("timestamp_us", ASCENDING)], name="time"),
        ]


class DataKeyDocument(Document):
    """A session's wrapped data key; `_id` = session_id."""

    id: str = Field(alias="_id")  # type: ignore[assignment]
    key_id: str
    wrapped: bytes

    class Settings:
        name = "data_keys"


class StageDocument(Document):
    """Figures of one pipeline stage of one session; `_id` = f"{session_id}:{stage}"."""

    id: str = Field(alias="_id")  # type: ignore[assignment]
    session_id: str
    stage: str
    processed: int = 0
    failed: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    last_error: str | None = None

    class Settings:
        name = "pipeline_stats"
        indexes = [
            IndexModel([("session_id", ASCENDING)], name="session"),
        ]


DOCUMENT_MODELS: list[type[Document]] = [
    SessionDocument,
    ChunkDocument,
    DataKeyDocument,
    StageDocument,
]
