"""Contract of the `MediaIndex` port: progress moves only from the `before` it was read as
(of racing advances exactly one wins), fragments are read by index below the count the
caller gives, a retried advance is harmless, and sessions keep apart."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, timedelta

import anyio
import pytest

from lucid_sessions.adapters.memory.media_index import InMemoryMediaIndex
from lucid_sessions.adapters.mongo import MongoMediaIndex
from lucid_sessions.adapters.mongo.media_index import fragment_id
from lucid_sessions.adapters.sqlite import SqliteMediaIndex
from lucid_sessions.domain.media import Fragment
from lucid_sessions.domain.ports.media_index import MediaIndex, MediaProgress
from tests.factories import at

pytestmark = pytest.mark.anyio

STARTED = at(0) + timedelta(milliseconds=375)
"""Chunk 0's timestamp: a domain instant, UTC to the millisecond (what every store keeps)."""


def fragment(n: int, *, duration: int = 180_000) -> Fragment:
    """The `n`-th fragment of a recording cut every 2 s at 90 kHz (another `duration` makes
    a fragment that differs); every third starts on a sync sample."""
    return Fragment(
        index=n,
        offset=1000 + n * 50_000,
        length=50_000,
        start=n * 180_000,
        duration=duration,
        timescale=90_000,
        starts_on_sync=n % 3 == 0,
    )


def fragments(start: int, stop: int, **changes: int) -> list[Fragment]:
    return [fragment(n, **changes) for n in range(start, stop)]


def progress(
    chunks: int, fragments: int, session_id: str = "sess-a", reader: bytes | None = None
) -> MediaProgress:
    """Progress after `chunks` chunks of 100,000 bytes, `fragments` fragments stored."""
    return MediaProgress(
        session_id=session_id,
        chunks=chunks,
        position=chunks * 100_000,
        fragments=fragments,
        reader=reader if reader is not None else f"reader after {chunks}".encode(),
        started_at=STARTED if chunks else None,
    )


async def visible(index: MediaIndex, session_id: str = "sess-a") -> list[Fragment]:
    """The fragments a reader sees: those below the stored progress."""
    stored = await index.progress(session_id)
    return [] if stored is None else await index.fragments(session_id, stored.fragments)


async def leave_fragments(index: MediaIndex, session_id: str, written: Sequence[Fragment]) -> None:
    """The state a crash between an advance's two writes leaves: its fragments (`written`)
    stored, the progress not moved. The port cannot make it (on purpose), so this writes
    each implementation's storage directly."""
    if isinstance(index, InMemoryMediaIndex):
        stored = index._fragments.setdefault(session_id, {})
        stored.update((f.index, f) for f in written)
    elif isinstance(index, SqliteMediaIndex):
        rows = [
            (
                session_id,
                f.index,
                f.offset,
                f.length,
                f.start,
                f.duration,
                f.timescale,
                f.starts_on_sync,
            )
            for f in written
        ]
        await index._db.run(
            lambda conn: conn.executemany(
                "INSERT INTO media_fragments VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
        )
    elif isinstance(index, MongoMediaIndex):
        await index._fragments.insert_many(
            [
                {
                    "_id": fragment_id(session_id, f.index),
                    "session_id": session_id,
                    "index": f.index,
                    "offset": f.offset,
                    "length": f.length,
                    "start": f.start,
                    "duration": f.duration,
                    "timescale": f.timescale,
                    "starts_on_sync": f.starts_on_sync,
                }
                for f in written
            ]
        )
    else:
        pytest.fail(f"no crash state known for {type(index).__name__}")


async def test_a_session_never_indexed_has_no_progress(media_index: MediaIndex) -> None:
    assert await media_index.progress("sess-a") is None
    assert await media_index.fragments("sess-a", 10) == []


async def test_the_first_advance_stores_fragments_and_progress(media_index: MediaIndex) -> None:
    after = progress(2, 3)
    assert await media_index.advance(None, after, fragments(0, 3))
    assert await media_index.progress("sess-a") == after
    assert await media_index.fragments("sess-a", 3) == fragments(0, 3)


async def test_progress_moves_on_from_the_stored_one(media_index: MediaIndex) -> None:
    first, second, third = progress(1, 0), progress(2, 2), progress(3, 2)
    assert await media_index.advance(None, first, [])
    assert await media_index.advance(first, second, fragments(0, 2))
    assert await media_index.advance(second, third, [])  # a chunk that ended no fragment
    assert await media_index.progress("sess-a") == third
    assert await visible(media_index) == fragments(0, 2)


async def test_fragments_are_read_in_order_below_the_count_from_start(
    media_index: MediaIndex,
) -> None:
    shuffled = fragments(0, 8)
    random.Random(7).shuffle(shuffled)
    assert await media_index.advance(None, progress(4, 8), shuffled)
    assert await media_index.fragments("sess-a", 8) == fragments(0, 8)
    assert await media_index.fragments("sess-a", 5) == fragments(0, 5)
    assert await media_index.fragments("sess-a", 8, start=3) == fragments(3, 8)
    assert await media_index.fragments("sess-a", 6, start=2) == fragments(2, 6)
    assert await media_index.fragments("sess-a", 20, start=6) == fragments(6, 8)
    assert await media_index.fragments("sess-a", 3, start=3) == []
    assert await media_index.fragments("sess-a", 0) == []


async def test_a_stale_before_moves_nothing(media_index: MediaIndex) -> None:
    first, second = progress(2, 3), progress(4, 6)
    assert await media_index.advance(None, first, fragments(0, 3))
    assert await media_index.advance(first, second, fragments(3, 6))
    # A replica that read `first` (or nothing) and indexed other bytes since then is refused,
    # and neither the progress nor a fragment it sees changes.
    other = fragments(3, 9, duration=1)
    assert not await media_index.advance(first, progress(5, 9), other)
    assert not await media_index.advance(None, progress(5, 9), fragments(0, 9, duration=1))
    unknown = replace(second, chunks=9)  # a progress that was never stored
    assert not await media_index.advance(unknown, progress(10, 9), other)
    assert await media_index.progress("sess-a") == second
    assert await visible(media_index) == fragments(0, 6)
    assert await media_index.advance(second, progress(5, 9), fragments(6, 9))


async def test_a_before_for_a_session_never_indexed_is_refused(media_index: MediaIndex) -> None:
    assert not await media_index.advance(progress(1, 0), progress(2, 1), fragments(0, 1))
    assert await media_index.progress("sess-a") is None
    assert await media_index.advance(None, progress(2, 1), fragments(0, 1))


async def test_an_advance_retried_after_a_crash_between_its_writes_succeeds(
    media_index: MediaIndex,
) -> None:
    first = progress(2, 3)
    assert await media_index.advance(None, first, fragments(0, 3))
    await leave_fragments(media_index, "sess-a", fragments(3, 7))
    assert await media_index.progress("sess-a") == first
    assert await visible(media_index) == fragments(0, 3), "past the progress: not seen"
    after = progress(4, 6)
    assert await media_index.advance(first, after, fragments(3, 6))
    assert await media_index.progress("sess-a") == after
    assert await visible(media_index) == fragments(0, 6)
    # A first advance retried the same way, by a version that reads the bytes differently
    # from the one that crashed: the fragments stored again replace those left behind.
    await leave_fragments(media_index, "sess-b", fragments(0, 2, duration=1))
    assert await media_index.advance(None, progress(1, 2, "sess-b"), fragments(0, 2))
    assert await visible(media_index, "sess-b") == fragments(0, 2)


async def test_a_large_reader_state_round_trips_exactly(media_index: MediaIndex) -> None:
    state = random.Random(1).randbytes(1024 * 1024)
    first = progress(1, 0, reader=state)
    assert await media_index.advance(None, first, [])
    assert await media_index.progress("sess-a") == first
    second = progress(2, 0, reader=state[::-1] + b"\x00")
    assert await media_index.advance(first, second, [])
    stored = await media_index.progress("sess-a")
    assert stored is not None
    assert stored.reader == state[::-1] + b"\x00"


async def test_started_at_round_trips_in_utc(media_index: MediaIndex) -> None:
    assert await media_index.advance(None, progress(0, 0), [])
    stored = await media_index.progress("sess-a")
    assert stored is not None
    assert stored.started_at is None
    assert await media_index.advance(stored, progress(1, 0), [])
    stored = await media_index.progress("sess-a")
    assert stored is not None
    assert stored.started_at == STARTED
    assert stored.started_at.tzinfo is UTC
    assert stored.started_at.microsecond == 375_000


async def test_sessions_keep_apart(media_index: MediaIndex) -> None:
    a, b = progress(2, 3, "sess-a"), progress(5, 2, "sess-b", reader=b"b")
    assert await media_index.advance(None, a, fragments(0, 3))
    assert await media_index.advance(None, b, fragments(0, 2, duration=7))
    assert await media_index.progress("sess-a") == a
    assert await media_index.progress("sess-b") == b
    assert await media_index.fragments("sess-a", 10) == fragments(0, 3)
    assert await media_index.fragments("sess-b", 10) == fragments(0, 2, duration=7)
    assert not await media_index.advance(None, progress(3, 3, "sess-b"), [])
    assert await media_index.advance(a, progress(3, 3, "sess-a"), [])
    assert await media_index.progress("sess-b") == b


async def test_deleting_a_session_forgets_its_index_only(media_index: MediaIndex) -> None:
    a, b = progress(2, 3, "sess-a"), progress(1, 1, "sess-b")
    assert await media_index.advance(None, a, fragments(0, 3))
    assert await media_index.advance(None, b, fragments(0, 1))
    await media_index.delete_session("sess-a")
    assert await media_index.progress("sess-a") is None
    assert await media_index.fragments("sess-a", 3) == []
    assert await media_index.progress("sess-b") == b
    assert await media_index.fragments("sess-b", 1) == fragments(0, 1)
    await media_index.delete_session("sess-a")  # again: nothing left, nothing happens
    await media_index.delete_session("sess-unknown")
    assert await media_index.progress("sess-b") == b
    assert await media_index.advance(None, progress(1, 1, "sess-a"), fragments(0, 1))


async def test_thousands_of_fragments_in_one_advance(media_index: MediaIndex) -> None:
    first = progress(1, 0)
    assert await media_index.advance(None, first, [])
    after = progress(500, 2000)
    assert await media_index.advance(first, after, fragments(0, 2000))
    assert await media_index.progress("sess-a") == after
    assert await media_index.fragments("sess-a", 2000) == fragments(0, 2000)
    assert await media_index.fragments("sess-a", 1990, start=1500) == fragments(1500, 1990)


@pytest.mark.parametrize("from_nothing", [True, False], ids=["first", "later"])
async def test_of_advances_racing_from_one_before_exactly_one_wins(
    media_index: MediaIndex, from_nothing: bool
) -> None:
    before: MediaProgress | None = None
    if not from_nothing:
        before = progress(2, 3)
        assert await media_index.advance(None, before, fragments(0, 3))
    low = 0 if before is None else before.fragments
    # Two replicas that both read `before`, having indexed the same bytes (one had more).
    contenders = [(progress(4, 6), fragments(low, 6)), (progress(5, 8), fragments(low, 8))]
    won: dict[int, bool] = {}

    async def advance(n: int) -> None:
        after, written = contenders[n]
        won[n] = await media_index.advance(before, after, written)

    for _ in range(5):  # both orders, whatever the scheduler does
        async with anyio.create_task_group() as group:
            group.start_soon(advance, 0)
            group.start_soon(advance, 1)
        assert sorted(won.values()) == [False, True], won
        winner = next(n for n, ok in won.items() if ok)
        assert await media_index.progress("sess-a") == contenders[winner][0]
        assert await visible(media_index) == fragments(0, contenders[winner][0].fragments)
        await media_index.delete_session("sess-a")
        if before is not None:
            assert await media_index.advance(None, before, fragments(0, 3))
