"""Real clock and id generator."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

from lucid_sessions.domain.ports.clock import Clock
from lucid_sessions.domain.ports.id_generator import IdGenerator

__all__ = ["SystemClock", "UlidIdGenerator", "encode_ulid"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


def encode_ulid(milliseconds: int, randomness: bytes) -> str:
    """A 26-character ULID: 48-bit big-endian milliseconds then 80 random bits."""
    value = (milliseconds & ((1 << 48) - 1)) << 80 | int.from_bytes(randomness[:10], "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


class UlidIdGenerator(IdGenerator):
    def new_session_id(self) -> str:
        return "sess-" + encode_ulid(time.time_ns() // 1_000_000, os.urandom(10))
