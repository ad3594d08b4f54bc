"""Builders of domain objects for tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from lucid_sessions.domain.chunk import ChunkRecord
from lucid_sessions.domain.merkle import blake3_256, leaf_hash
from lucid_sessions.domain.session import Session
from lucid_sessions.domain.values import RDPConfig, SessionMetadata

T0 = datetime.fromisoformat("2026-01-01T00:00:00+00:00")


def make_session(
    session_id: str = "sess-1",
    *,
    created_at: datetime | None = None,
    metadata: SessionMetadata | None = None,
    **kwargs: Any,
) -> Session:
    return Session.create(
        session_id=session_id,
        name=kwargs.pop("name", "desk"),
        rdp_config=kwargs.pop("rdp_config", RDPConfig(host="10.0.0.5")),
        now=created_at or T0,
        metadata=metadata,
        **kwargs,
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_chunk_record(
    session_id: str,
    n: int,
    *,
    data: bytes | None = None,
    t: float | None = None,
    **changes: Any,
) -> ChunkRecord:
    """Chunk `n`'s metadata: its digest and size from `data` (by default bytes naming the chunk),
    stored zstd-compressed and encrypted at `at(t)` (by default `at(n)`); `changes` replace
    any other field."""
    content = data if data is not None else f"{session_id}:{n}".encode()
    digest = blake3_256(content)
    record = ChunkRecord(
        session_id=session_id,
        sequence_number=n,
        blake3=digest,
        leaf_hash=leaf_hash(digest),
        size_bytes=len(content),
        stored_size_bytes=len(content) + 40,
        timestamp=at(n if t is None else t),
        compression="zstd",
        compression_ratio=1.5,
        encrypted=True,
        cipher="aes-256-gcm",
        duration_seconds=2.0 if n % 2 else None,
        frame_count=60 if n % 2 else None,
    )
    return replace(record, **changes)
