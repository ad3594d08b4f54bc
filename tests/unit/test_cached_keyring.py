"""CachedKeyRing: what reaches the inner ring, the two bounds (count and age), and errors.

The inner ring is the real in-memory `StaticKeyRing`, counting the unwraps that reach it; the
age bound reads a clock the test moves by hand.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from lucid_sessions.adapters.crypto.cached_keyring import CachedKeyRing
from lucid_sessions.adapters.crypto.keyring import StaticKeyRing
from lucid_sessions.domain.errors import IntegrityError, StorageUnavailable
from lucid_sessions.domain.ports.keyring import WrappedKey


class CountingRing(StaticKeyRing):
    """A real key ring that counts the unwraps reaching it, and can be switched off."""

    def __init__(self) -> None:
        super().__init__({"k1": os.urandom(32)}, "k1")
        self.unwraps = 0
        self.down = False

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        self.unwraps += 1
        if self.down:
            raise StorageUnavailable("the token is unavailable", retry_after_seconds=5)
        return super().unwrap(wrapped)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cached(
    inner: CountingRing, entries: int = 8, ttl: float = 60.0, clock: Clock | None = None
) -> CachedKeyRing:
    return CachedKeyRing(inner, max_entries=entries, ttl_seconds=ttl, monotonic=clock or Clock())


def made_elsewhere(inner: CountingRing, count: int) -> list[tuple[bytes, WrappedKey]]:
    """Data keys wrapped by another process (this cache never saw them)."""
    return [inner.new_data_key() for _ in range(count)]


def test_a_key_is_unwrapped_once_then_served_from_memory() -> None:
    inner = CountingRing()
    ring = cached(inner)
    [(key, wrapped)] = made_elsewhere(inner, 1)
    assert [ring.unwrap(wrapped) for _ in range(5)] == [key] * 5
    assert inner.unwraps == 1
    assert (ring.hits, ring.misses) == (4, 1)


def test_a_new_data_key_is_not_cached_until_it_is_unwrapped() -> None:
    inner = CountingRing()
    ring = cached(inner)
    key, wrapped = ring.new_data_key()
    assert len(ring) == 0
    assert ring.unwrap(wrapped) == key  # reaches the inner ring (the health probe relies on it)
    assert ring.unwrap(wrapped) == key
    assert inner.unwraps == 1


def test_the_least_recently_used_key_goes_first() -> None:
    inner = CountingRing()
    ring = cached(inner, entries=2)
    (a, wa), (b, wb), (c, wc) = made_elsewhere(inner, 3)
    ring.unwrap(wa)
    ring.unwrap(wb)
    ring.unwrap(wa)  # b is now the least recently used
    ring.unwrap(wc)  # and makes room for c
    assert len(ring) == 2
    assert inner.unwraps == 3
    assert ring.unwrap(wa) == a
    assert ring.unwrap(wc) == c
    assert inner.unwraps == 3
    assert ring.unwrap(wb) == b
    assert inner.unwraps == 4


def test_a_key_expires_its_time_after_it_was_unwrapped_however_often_used() -> None:
    inner, clock = CountingRing(), Clock()
    ring = cached(inner, ttl=60.0, clock=clock)
    [(key, wrapped)] = made_elsewhere(inner, 1)
    ring.unwrap(wrapped)
    clock.now += 59.0
    assert ring.unwrap(wrapped) == key  # used, but its age still counts from the unwrap
    assert inner.unwraps == 1
    clock.now += 1.0
    assert ring.unwrap(wrapped) == key
    assert inner.unwraps == 2


def test_expired_keys_leave_memory_at_the_next_use_of_the_ring() -> None:
    inner, clock = CountingRing(), Clock()
    ring = cached(inner, ttl=10.0, clock=clock)
    for _, wrapped in made_elsewhere(inner, 3):
        ring.unwrap(wrapped)
    assert len(ring) == 3
    clock.now += 10.0
    ring.current_key_id  # noqa: B018 (not a use of the cache)
    assert len(ring) == 3
    ring.unwrap(made_elsewhere(inner, 1)[0][1])
    assert len(ring) == 1


@pytest.mark.parametrize(("entries", "ttl"), [(0, 60.0), (8, 0.0)])
def test_either_bound_at_zero_turns_the_cache_off(entries: int, ttl: float) -> None:
    inner = CountingRing()
    ring = cached(inner, entries=entries, ttl=ttl)
    key, wrapped = ring.new_data_key()
    assert [ring.unwrap(wrapped) for _ in range(3)] == [key] * 3
    assert inner.unwraps == 3
    assert len(ring) == 0
    assert not ring.enabled


def test_failures_pass_through_and_cache_nothing() -> None:
    inner = CountingRing()
    ring = cached(inner)
    [(key, wrapped)] = made_elsewhere(inner, 1)
    inner.down = True
    with pytest.raises(StorageUnavailable):
        ring.unwrap(wrapped)
    with pytest.raises(StorageUnavailable):
        ring.unwrap(wrapped)
    assert len(ring) == 0
    inner.down = False
    assert ring.unwrap(wrapped) == key
    tampered = WrappedKey("k1", bytes([wrapped.wrapped[0] ^ 1]) + wrapped.wrapped[1:])
    with pytest.raises(IntegrityError):
        ring.unwrap(tampered)
    with pytest.raises(IntegrityError):
        ring.unwrap(WrappedKey("k2", wrapped.wrapped))  # the same bytes under another key id
    assert len(ring) == 1


def test_a_cached_key_still_answers_while_the_inner_ring_is_down() -> None:
    inner = CountingRing()
    ring = cached(inner)
    key, wrapped = ring.new_data_key()
    ring.unwrap(wrapped)
    inner.down = True
    assert ring.unwrap(wrapped) == key


def test_rewrap_and_the_current_key_id_go_to_the_inner_ring() -> None:
    inner = CountingRing()
    ring = cached(inner)
    key, wrapped = ring.new_data_key()
    assert ring.current_key_id == "k1"
    assert ring.rewrap(wrapped) == wrapped
    before = inner.unwraps
    ring.clear()
    assert ring.unwrap(wrapped) == key
    assert inner.unwraps == before + 1


def test_no_repr_shows_a_data_key() -> None:
    inner = CountingRing()
    ring = cached(inner)
    key, wrapped = ring.new_data_key()
    ring.unwrap(wrapped)
    shown = repr(ring)
    assert key.hex() not in shown
    assert repr(key) not in shown
    assert "cached=1" in shown


def test_many_threads_get_the_right_keys() -> None:
    inner = CountingRing()
    ring = cached(inner, entries=16)
    made = made_elsewhere(inner, 64)

    def unwrap_all(offset: int) -> bool:
        return all(
            ring.unwrap(made[(offset + i) % len(made)][1]) == made[(offset + i) % len(made)][0]
            for i in range(len(made) * 4)
        )

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(unwrap_all, range(8)))
    assert len(ring) <= 16


def test_negative_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        CachedKeyRing(CountingRing(), max_entries=-1, ttl_seconds=1.0)
