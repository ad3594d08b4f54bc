"""Contract of the `SessionLog` port: gap-free indexes, never a second entry for one event,
concurrent appends, and a last-anchored size that only grows."""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest

from lucid_sessions.domain.ports.session_log import SessionLog
from lucid_sessions.domain.session_log import DeletionReason, LogEntry, LogEventType
from tests.factories import at

pytestmark = pytest.mark.anyio


def completed(session_id: str, n: int = 0) -> LogEntry:
    return LogEntry(
        index=-1,
        type=LogEventType.COMPLETED,
        session_id=session_id,
        at=at(n) + timedelta(milliseconds=250),
        principal="system",
        merkle_root="ab" * 32,
        chunks_count=3,
        size_bytes=1234,
        manifest_sha256="cd" * 32,
    )


def deleted(session_id: str) -> LogEntry:
    return LogEntry(
        index=-1,
        type=LogEventType.DELETED,
        session_id=session_id,
        at=at(9),
        principal="ops",
        merkle_root=None,
        chunks_count=0,
        reason=DeletionReason.RETENTION,
    )


async def test_entries_are_numbered_from_zero_and_read_back(session_log: SessionLog) -> None:
    assert await session_log.size() == 0
    first = await session_log.append(completed("sess-a"))
    second = await session_log.append(deleted("sess-a"))
    third = await session_log.append(completed("sess-b", 1))
    assert [first.index, second.index, third.index] == [0, 1, 2]
    assert await session_log.size() == 3
    assert await session_log.entries(0, 3) == [first, second, third]
    assert await session_log.entries(1, 2) == [second]
    assert await session_log.entries(3, 10) == []
    assert second.reason is DeletionReason.RETENTION
    assert first.document()["at"] == "2026-01-01T00:00:00.250000Z"


async def test_an_event_is_written_once(session_log: SessionLog) -> None:
    stored = await session_log.append(completed("sess-a"))
    again = await session_log.append(completed("sess-a"))
    assert again == stored
    assert await session_log.size() == 1
    assert (await session_log.append(deleted("sess-a"))).index == 1


async def test_concurrent_appends_get_distinct_gap_free_indexes(session_log: SessionLog) -> None:
    stored: list[LogEntry] = []

    async def append(n: int) -> None:
        stored.append(await session_log.append(completed(f"sess-{n:03d}", n)))
        stored.append(await session_log.append(completed(f"sess-{n:03d}", n)))  # a retry

    async with anyio.create_task_group() as group:
        for n in range(20):
            group.start_soon(append, n)
    entries = await session_log.entries(0, 100)
    assert [e.index for e in entries] == list(range(20))
    assert len({e.session_id for e in entries}) == 20
    assert {e.index for e in stored} == set(range(20))


async def test_the_anchored_size_only_grows(session_log: SessionLog) -> None:
    assert await session_log.anchored_size() == 0
    await session_log.record_anchored(5)
    await session_log.record_anchored(3)
    assert await session_log.anchored_size() == 5
    await session_log.record_anchored(8)
    assert await session_log.anchored_size() == 8


async def test_leaf_data_is_the_canonical_entry(session_log: SessionLog) -> None:
    entry = await session_log.append(deleted("sess-z"))
    assert entry.leaf_data() == (
        b'{"at":"2026-01-01T00:00:09Z","chunks_count":0,"index":0,"merkle_root":null,'
        b'"principal":"ops","reason":"retention","session_id":"sess-z","type":"deleted"}'
    )
    assert entry.type is LogEventType.DELETED
