"""`CachedKeyRing`: unwrapped data keys kept in memory for a while, in front of a PKCS#11 token.

The blob codec unwraps the session's data key for every chunk it seals or opens. With the
master keys in a token each unwrap is a round trip to the token (one AES-GCM decryption inside
it, under the token's one lock), so a recording's chunks would queue on the token one by one.
This ring remembers what the token answered: by (key id, wrapped bytes), which names one data
key exactly whatever rotations happen meanwhile.

Bounds: at most `max_entries` keys, the least recently used dropped first, and none older than
`ttl_seconds` after it was unwrapped (expired keys are dropped at the next use of the ring; the
health probe uses it every poll), so a data key's plaintext does not stay in memory for ever.
Python cannot wipe `bytes`: dropping the last reference is what there is. Either bound at 0
turns the cache off (every unwrap reaches the token).

Only the token is wrapped (see `lucid_sessions.bootstrap.factories.keyring`): the file key ring
holds its master keys in memory already and unwraps in about a microsecond, so a cache there
would buy nothing measurable (bench/bench_keys.py) and keep more copies of plaintext keys.

Only what `unwrap` returned is cached: `new_data_key`, `rewrap` and `current_key_id` go to the
inner ring (so the health probe's wrap and unwrap of a fresh key both reach the token; each
probe takes one entry, the least recently used key making room). Errors pass through
unchanged, and a failed unwrap caches nothing. Thread-safe: the blob codec runs in worker
threads. No `repr` or message shows a data key.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from lucid_sessions.domain.ports.keyring import KeyRing, WrappedKey

__all__ = ["CachedKeyRing"]

_Entry = tuple[str, bytes]


class CachedKeyRing(KeyRing):
    """`inner`, with the data keys it unwrapped kept for `ttl_seconds`, `max_entries` at most.

    `monotonic` is the clock the expiry reads (seconds; tests pass their own).
    """

    def __init__(
        self,
        inner: KeyRing,
        *,
        max_entries: int,
        ttl_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 0 or ttl_seconds < 0:
            raise ValueError("the data key cache's bounds must not be negative")
        self._inner = inner
        self._max, self._ttl, self._now = max_entries, ttl_seconds, monotonic
        self._lock = threading.Lock()
        self._keys: OrderedDict[_Entry, bytes] = OrderedDict()  # least recently used first
        self._expiry: OrderedDict[_Entry, float] = OrderedDict()  # oldest unwrap first
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return (
            f"CachedKeyRing({self._inner!r}, max_entries={self._max}, "
            f"ttl_seconds={self._ttl}, cached={len(self)})"
        )

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)

    @property
    def enabled(self) -> bool:
        return self._max > 0 and self._ttl > 0

    # -- the port ----------------------------------------------------------------------------

    @property
    def current_key_id(self) -> str:
        return self._inner.current_key_id

    def new_data_key(self) -> tuple[bytes, WrappedKey]:
        return self._inner.new_data_key()

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        entry = (wrapped.key_id, bytes(wrapped.wrapped))
        with self._lock:
            self._expire()
            key = self._keys.get(entry)
            if key is not None:
                self._keys.move_to_end(entry)
                self.hits += 1
                return key
            self.misses += 1
        # Outside the lock: the token serializes its own calls, and a hit never waits on one.
        key = self._inner.unwrap(wrapped)
        self._remember(wrapped, key)
        return key

    def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
        return self._inner.rewrap(wrapped)

    # -- the cache ---------------------------------------------------------------------------

    def clear(self) -> None:
        """Forget every cached key."""
        with self._lock:
            self._keys.clear()
            self._expiry.clear()

    def _remember(self, wrapped: WrappedKey, key: bytes) -> None:
        if not self.enabled:
            return
        entry = (wrapped.key_id, bytes(wrapped.wrapped))
        with self._lock:
            self._expire()
            self._keys[entry] = key
            self._keys.move_to_end(entry)
            self._expiry.pop(entry, None)
            self._expiry[entry] = self._now() + self._ttl
            while len(self._keys) > self._max:
                oldest, _ = self._keys.popitem(last=False)
                del self._expiry[oldest]

    def _expire(self) -> None:
        """Drop every key past its time (call with the lock held): expiry order is unwrap
        order, so only the front of `_expiry` is looked at."""
        now = self._now()
        while self._expiry:
            entry, deadline = next(iter(self._expiry.items()))
            if deadline > now:
                return
            del self._expiry[entry]
            del self._keys[entry]
