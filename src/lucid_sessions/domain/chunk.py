"""Chunk values: what is recorded about every stored chunk of a recording."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from lucid_sessions.domain.errors import InvalidValue
from lucid_sessions.domain.instants import instant

__all__ = ["ChunkRecord", "check_timestamp", "validate_sequence_number"]

MAX_SEQUENCE = 10**12  # 12 decimal digits at most


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def check_timestamp(moment: datetime, field: str) -> datetime:
    """Chunk times must be timezone-aware and between 1970 and 9999 (UTC)."""
    if moment.tzinfo is None:
        raise InvalidValue(field, "must carry a time zone")
    if not EARLIEST <= moment < LATEST:
        raise InvalidValue(field, "must be between 1970-01-01 and 9999-01-01 (UTC)")
    return moment


def validate_sequence_number(value: int, field: str = "sequence_number") -> int:
    if not 0 <= value < MAX_SEQUENCE:
        raise InvalidValue(field, f"must be between 0 and {MAX_SEQUENCE - 1}")
    return value


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """Metadata of one chunk. `blake3` is the digest of the original bytes (the Merkle leaf
    data); `leaf_hash` is BLAKE3(0x00 || blake3). `timestamp` is kept to the millisecond."""

    session_id: str
    sequence_number: int
    blake3: bytes
    leaf_hash: bytes
    size_bytes: int
    stored_size_bytes: int
    timestamp: datetime
    compression: str
    compression_ratio: float
    encrypted: bool
    cipher: str | None
    duration_seconds: float | None = None
    frame_count: int | None = None

    def __post_init__(self) -> None:
        validate_sequence_number(self.sequence_number)
        check_timestamp(self.timestamp, "timestamp")
        object.__setattr__(self, "timestamp", instant(self.timestamp))

    def same_content(self, digest: bytes, size: int) -> bool:
        return self.blake3 == digest and self.size_bytes == size
