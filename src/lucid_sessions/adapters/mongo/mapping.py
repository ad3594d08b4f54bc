"""Mapping between domain objects and the private Beanie documents."""

from __future__ import annotations

from datetime import UTC, datetime

from lucid_sessions.adapters.mongo.documents import ChunkDocument, SessionDocument
from lucid_sessions.adapters.session_codec import (
    epoch_micros,
    from_epoch_micros,
    session_from_doc,
    session_to_doc,
    to_timestamp,
)
from lucid_sessions.domain.chunk import ChunkRecord
from lucid_sessions.domain.session import Session

__all__ = [
    "chunk_from_document",
    "chunk_id",
    "chunk_to_document",
    "epoch_micros",
    "session_from_document",
    "session_to_document",
]

_TIMES = (
    "created_at",
    "updated_at",
    "started_at",
    "stopped_at",
    "completed_at",
    "paused_at",
    "finalized_at",
)


def _exact(stored: datetime, rest: int) -> datetime:
    """A BSON date (milliseconds) plus the sub-millisecond rest kept beside it."""
    moment = stored if stored.tzinfo is not None else stored.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000 + rest)


def session_to_document(session: Session) -> SessionDocument:
    body = session_to_doc(session)
    body["_id"] = body.pop("session_id")
    body["schema_version"] = body.pop("schema")
    micros: dict[str, int] = {}
    for field in _TIMES:
        moment: datetime | None = getattr(session, field)
        body[field] = moment
        if moment is not None:
            micros[field] = moment.microsecond % 1000
    body["micros"] = micros
    body["created_us"] = epoch_micros(session.created_at)
    document: SessionDocument = SessionDocument.model_validate(body)
    return document


def session_from_document(document: SessionDocument) -> Session:
    body = document.model_dump()
    body["session_id"] = body.pop("id")
    body["schema"] = body.pop("schema_version")
    micros: dict[str, int] = body.pop("micros")
    for field in _TIMES:
        stored: datetime | None = body[field]
        body[field] = None if stored is None else to_timestamp(_exact(stored, micros[field]))
    return session_from_doc(body)


def chunk_id(session_id: str, sequence_number: int) -> str:
    return f"{session_id}:{sequence_number:013d}"


def chunk_to_document(record: ChunkRecord) -> ChunkDocument:
    document: ChunkDocument = ChunkDocument.model_validate(
        {
            "_id": chunk_id(record.session_id, record.sequence_number),
            "session_id": record.session_id,
            "sequence_number": record.sequence_number,
            "blake3": record.blake3,
            "leaf_hash": record.leaf_hash,
            "size_bytes": record.size_bytes,
            "stored_size_bytes": record.stored_size_bytes,
            "timestamp": record.timestamp,
            "timestamp_us": epoch_micros(record.timestamp),
            "compression": record.compression,
            "compression_ratio": record.compression_ratio,
            "encrypted": record.encrypted,
            "cipher": record.cipher,
            "duration_seconds": record.duration_seconds,
            "frame_count": record.frame_count,
        }
    )
    return document


def chunk_from_document(document: ChunkDocument) -> ChunkRecord:
    return ChunkRecord(
        session_id=document.session_id,
        sequence_number=document.sequence_number,
        blake3=bytes(document.blake3),
        leaf_hash=bytes(document.leaf_hash),
        size_bytes=document.size_bytes,
        stored_size_bytes=document.stored_size_bytes,
        timestamp=from_epoch_micros(document.timestamp_us),
        compression=document.compression,
        compression_ratio=document.compression_ratio,
        encrypted=document.encrypted,
        cipher=document.cipher,
        duration_seconds=document.duration_seconds,
        frame_count=document.frame_count,
    )
