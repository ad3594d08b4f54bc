"""UlidIdGenerator: session ids from monotonic ULIDs (`sess-` + 26 characters)."""

from __future__ import annotations

import os
import threading
import time

from lucid_sessions.domain.ports.id_generator import IdGenerator

__all__ = ["UlidIdGenerator", "encode_ulid"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80


def encode_ulid(milliseconds: int, randomness: int) -> str:
    """A 26-character ULID: 48-bit milliseconds then 80 bits of randomness, Crockford base32."""
    value = (milliseconds & ((1 << 48) - 1)) << _RANDOM_BITS | randomness
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


class UlidIdGenerator(IdGenerator):
    """Monotonic ULIDs: within one millisecond, each id adds one to the previous id's random
    part, so ids made later by this process sort after ids made earlier (the newest-first
    order of sessions created in the same millisecond follows creation)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0

    def new_session_id(self) -> str:
        with self._lock:
            now_ms = max(time.time_ns() // 1_000_000, self._last_ms)
            if now_ms == self._last_ms and self._last_random + 1 < 1 << _RANDOM_BITS:
                randomness = self._last_random + 1
            else:
                # A fresh random start, with headroom so increments never overflow in practice.
                randomness = int.from_bytes(os.urandom(10), "big") >> 1
            self._last_ms, self._last_random = now_ms, randomness
        return "sess-" + encode_ulid(now_ms, randomness)
