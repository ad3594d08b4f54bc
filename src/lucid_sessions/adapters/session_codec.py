"""Mapping between the Session aggregate and a plain JSON-safe document.

Shared by every store (SQLite, MongoDB, Redis cache): the stored document is never the
domain model, and the field names here are the storage schema.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lucid_sessions.domain.session import Session, SessionStatus
from lucid_sessions.domain.values import (
    Compression,
    Priority,
    Quality,
    RDPConfig,
    RecordingConfig,
    SessionMetadata,
    StorageConfig,
)

__all__ = [
    "EPOCH",
    "SCHEMA_VERSION",
    "epoch_micros",
    "from_epoch_micros",
    "from_timestamp",
    "session_from_doc",
    "session_to_doc",
    "to_timestamp",
]

SCHEMA_VERSION = 1


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_micros(moment: datetime) -> int:
    """Exact microseconds since the epoch (the sortable integer every store indexes)."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def from_epoch_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def to_timestamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def from_timestamp(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def _unhex(value: str | None) -> bytes | None:
    return None if value is None else bytes.fromhex(value)


def session_to_doc(session: Session) -> dict[str, Any]:
    rdp, rec, sto, meta = (
        session.rdp_config,
        session.recording_config,
        session.storage_config,
        session.metadata,
    )
    return {
        "schema": SCHEMA_VERSION,
        "session_id": session.session_id,
        "name": session.name,
        "description": session.description,
        "rdp_config": {
            "host": rdp.host,
            "port": rdp.port,
            "username": rdp.username,
            "domain": rdp.domain,
            "use_tls": rdp.use_tls,
            "ignore_cert": rdp.ignore_cert,
        },
        "recording_config": {
            "frame_rate": rec.frame_rate,
            "resolution": rec.resolution,
            "quality": rec.quality.value,
            "compression": rec.compression.value,
            "compression_level": rec.compression_level,
            "bitrate": rec.bitrate,
            "audio_enabled": rec.audio_enabled,
            "cursor_enabled": rec.cursor_enabled,
        },
        "storage_config": {
            "retention_days": sto.retention_days,
            "max_size_gb": sto.max_size_gb,
            "encryption_enabled": sto.encryption_enabled,
            "compression_enabled": sto.compression_enabled,
            "legal_hold": sto.legal_hold,
        },
        "metadata": {
            "project": meta.project,
            "environment": meta.environment,
            "tags": list(meta.tags),
            "description": meta.description,
            "owner": meta.owner,
            "priority": meta.priority.value,
        },
        "status": session.status.value,
        "created_at": to_timestamp(session.created_at),
        "updated_at": to_timestamp(session.updated_at),
        "started_at": to_timestamp(session.started_at),
        "stopped_at": to_timestamp(session.stopped_at),
        "completed_at": to_timestamp(session.completed_at),
        "paused_at": to_timestamp(session.paused_at),
        "paused_seconds": session.paused_seconds,
        "chunks_count": session.chunks_count,
        "size_bytes": session.size_bytes,
        "stored_bytes": session.stored_bytes,
        "frame_count": session.frame_count,
        "recorded_seconds": session.recorded_seconds,
        "merkle_frontier": [h.hex() for h in session.merkle_frontier],
        "merkle_root": _hex(session.merkle_root),
        "pipeline_paused": session.pipeline_paused,
        "error": session.error,
        "finalized_at": to_timestamp(session.finalized_at),
        "manifest_signature": _hex(session.manifest_signature),
        "manifest_public_key": _hex(session.manifest_public_key),
        "version": session.version,
    }


def session_from_doc(doc: dict[str, Any]) -> Session:
    rdp, rec, sto, meta = (
        doc["rdp_config"],
        doc["recording_config"],
        doc["storage_config"],
        doc["metadata"],
    )
    created_at = from_timestamp(doc["created_at"])
    assert created_at is not None
    root = doc.get("merkle_root")
    return Session(
        session_id=doc["session_id"],
        name=doc["name"],
        description=doc.get("description"),
        rdp_config=RDPConfig(**rdp),
        recording_config=RecordingConfig(
            frame_rate=rec["frame_rate"],
            resolution=rec["resolution"],
            quality=Quality(rec["quality"]),
            compression=Compression(rec["compression"]),
            compression_level=rec.get("compression_level"),
            bitrate=rec.get("bitrate"),
            audio_enabled=rec["audio_enabled"],
            cursor_enabled=rec["cursor_enabled"],
        ),
        storage_config=StorageConfig(**sto),
        metadata=SessionMetadata(
            project=meta.get("project"),
            environment=meta.get("environment"),
            tags=tuple(meta.get("tags", ())),
            description=meta.get("description"),
            owner=meta.get("owner"),
            priority=Priority(meta.get("priority", "normal")),
        ),
        status=SessionStatus(doc["status"]),
        created_at=created_at,
        updated_at=from_timestamp(doc.get("updated_at")),
        started_at=from_timestamp(doc.get("started_at")),
        stopped_at=from_timestamp(doc.get("stopped_at")),
        completed_at=from_timestamp(doc.get("completed_at")),
        paused_at=from_timestamp(doc.get("paused_at")),
        paused_seconds=float(doc.get("paused_seconds", 0.0)),
        chunks_count=int(doc.get("chunks_count", 0)),
        size_bytes=int(doc.get("size_bytes", 0)),
        stored_bytes=int(doc.get("stored_bytes", 0)),
        frame_count=int(doc.get("frame_count", 0)),
        recorded_seconds=float(doc.get("recorded_seconds", 0.0)),
        merkle_frontier=tuple(bytes.fromhex(h) for h in doc.get("merkle_frontier", ())),
        merkle_root=_unhex(root),
        pipeline_paused=bool(doc.get("pipeline_paused", False)),
        error=doc.get("error"),
        finalized_at=from_timestamp(doc.get("finalized_at")),
        manifest_signature=_unhex(doc.get("manifest_signature")),
        manifest_public_key=_unhex(doc.get("manifest_public_key")),
        version=int(doc["version"]),
    )
