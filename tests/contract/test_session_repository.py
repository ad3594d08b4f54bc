"""SessionRepository contract: every adapter and the fake must pass every test."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import anyio
import pytest

from lucid_sessions.domain.errors import ConcurrencyError, SessionNotFound
from lucid_sessions.domain.ports.session_repository import SessionQuery, SessionRepository
from lucid_sessions.domain.session import SessionStatus
from lucid_sessions.domain.values import (
    Compression,
    Priority,
    RDPConfig,
    RecordingConfig,
    SessionMetadata,
    StorageConfig,
)
from tests.factories import at, make_session

pytestmark = pytest.mark.anyio


async def test_add_get_round_trip_keeps_every_field(session_repo: SessionRepository) -> None:
    session = make_session(
        "sess-a",
        description="a desk",
        rdp_config=RDPConfig(host="h", port=3390, username="u", domain="d", use_tls=False),
        recording_config=RecordingConfig(
            frame_rate=15, resolution="1280x720", compression=Compression.LZ4, compression_level=4
        ),
        storage_config=StorageConfig(retention_days=9, max_size_gb=1.5, legal_hold=True),
        metadata=SessionMetadata(
            project="p", environment="e", tags=("x", "y"), owner="o", priority=Priority.HIGH
        ),
    )
    session.start(at(5))
    session.pause(at(7))
    session.merkle_frontier = (b"\x01" * 32,)
    session.merkle_root = b"\x02" * 32
    session.chunks_count, session.size_bytes, session.stored_bytes = 1, 100, 40
    await session_repo.add(session)
    assert session.version == 1
    loaded = await session_repo.get("sess-a")
    assert loaded == session


async def test_get_unknown_raises_not_found(session_repo: SessionRepository) -> None:
    with pytest.raises(SessionNotFound):
        await session_repo.get("sess-missing")


async def test_add_twice_conflicts(session_repo: SessionRepository) -> None:
    await session_repo.add(make_session("sess-a"))
    with pytest.raises(ConcurrencyError):
        await session_repo.add(make_session("sess-a"))


async def test_save_advances_version_and_persists(session_repo: SessionRepository) -> None:
    session = make_session("sess-a")
    await session_repo.add(session)
    session.start(at(1))
    await session_repo.save(session)
    assert session.version == 2
    loaded = await session_repo.get("sess-a")
    assert (loaded.status, loaded.version) == (SessionStatus.RECORDING, 2)


async def test_stale_save_conflicts_and_keeps_the_winner(session_repo: SessionRepository) -> None:
    await session_repo.add(make_session("sess-a"))
    first = await session_repo.get("sess-a")
    second = await session_repo.get("sess-a")
    first.start(at(1))
    await session_repo.save(first)
    second.update(at(2), name="loser")
    with pytest.raises(ConcurrencyError):
        await session_repo.save(second)
    loaded = await session_repo.get("sess-a")
    assert (loaded.status, loaded.name) == (SessionStatus.RECORDING, "desk")


async def test_racing_saves_exactly_one_wins(session_repo: SessionRepository) -> None:
    await session_repo.add(make_session("sess-a"))
    copies = [await session_repo.get("sess-a") for _ in range(8)]
    wins: list[int] = []

    async def save(index: int) -> None:
        copies[index].update(at(index), name=f"n{index}")
        try:
            await session_repo.save(copies[index])
            wins.append(index)
        except ConcurrencyError:
            pass

    async with anyio.create_task_group() as tg:
        for index in range(len(copies)):
            tg.start_soon(save, index)
    assert len(wins) == 1
    assert (await session_repo.get("sess-a")).name == f"n{wins[0]}"


async def test_save_or_delete_of_missing_raises_not_found(session_repo: SessionRepository) -> None:
    with pytest.raises(SessionNotFound):
        await session_repo.save(make_session("sess-x"))
    with pytest.raises(SessionNotFound):
        await session_repo.delete("sess-x")


async def test_delete_checks_expected_version(session_repo: SessionRepository) -> None:
    session = make_session("sess-a")
    await session_repo.add(session)
    with pytest.raises(ConcurrencyError):
        await session_repo.delete("sess-a", expected_version=7)
    await session_repo.delete("sess-a", expected_version=1)
    with pytest.raises(SessionNotFound):
        await session_repo.get("sess-a")


async def _seed(repo: SessionRepository) -> list[str]:
    ids = []
    for i in range(12):
        session = make_session(
            f"sess-{i:02d}",
            created_at=at(i * 10),
            metadata=SessionMetadata(
                project=f"p{i % 3}",
                environment="prod" if i % 2 else "dev",
                owner="alice" if i < 6 else "bob",
                tags=(f"t{i % 4}", "common"),
            ),
        )
        if i % 5 == 0:
            session.start(at(i * 10 + 1))
        await repo.add(session)
        ids.append(session.session_id)
    return ids


def _ids(items: list[str], picked: Callable[[int], bool]) -> list[str]:
    return [sid for i, sid in reversed(list(enumerate(items))) if picked(i)]


@pytest.mark.parametrize(
    ("query", "picked"),
    [
        (SessionQuery(limit=100), lambda i: True),
        (SessionQuery(status=SessionStatus.RECORDING, limit=100), lambda i: i % 5 == 0),
        (SessionQuery(project="p1", limit=100), lambda i: i % 3 == 1),
        (SessionQuery(environment="prod", limit=100), lambda i: i % 2 == 1),
        (SessionQuery(owner="bob", limit=100), lambda i: i >= 6),
        (SessionQuery(tag="t2", limit=100), lambda i: i % 4 == 2),
        (SessionQuery(tag="common", owner="alice", limit=100), lambda i: i < 6),
        (SessionQuery(created_after=at(50), limit=100), lambda i: i >= 5),
        (SessionQuery(created_before=at(50), limit=100), lambda i: i < 5),
        (
            SessionQuery(created_after=at(20), created_before=at(80), project="p0", limit=100),
            lambda i: 2 <= i < 8 and i % 3 == 0,
        ),
        (SessionQuery(tag="none", limit=100), lambda i: False),
    ],
)
async def test_list_filters_newest_first(
    session_repo: SessionRepository, query: SessionQuery, picked: Callable[[int], bool]
) -> None:
    ids = await _seed(session_repo)
    page = await session_repo.list(query)
    expected = _ids(ids, picked)
    assert [s.session_id for s in page.sessions] == expected
    assert page.total == len(expected)


async def test_list_paginates(session_repo: SessionRepository) -> None:
    ids = await _seed(session_repo)
    newest_first = list(reversed(ids))
    seen: list[str] = []
    for offset in range(0, 12, 5):
        page = await session_repo.list(SessionQuery(limit=5, offset=offset))
        assert page.total == 12
        seen += [s.session_id for s in page.sessions]
    assert seen == newest_first
    empty = await session_repo.list(SessionQuery(limit=5, offset=50))
    assert (empty.sessions, empty.total) == ([], 12)


async def test_same_instant_orders_by_id(session_repo: SessionRepository) -> None:
    for sid in ("sess-b", "sess-a", "sess-c"):
        await session_repo.add(make_session(sid, created_at=at(1)))
    page = await session_repo.list(SessionQuery())
    assert [s.session_id for s in page.sessions] == ["sess-c", "sess-b", "sess-a"]


async def test_tag_index_follows_updates(session_repo: SessionRepository) -> None:
    session = make_session("sess-a", metadata=SessionMetadata(tags=("old",)))
    await session_repo.add(session)
    session.update(at(1), metadata=SessionMetadata(tags=("new",)))
    await session_repo.save(session)
    assert (await session_repo.list(SessionQuery(tag="old"))).total == 0
    assert (await session_repo.list(SessionQuery(tag="new"))).total == 1


async def test_summary_counts_in_the_store(session_repo: SessionRepository) -> None:
    await _seed(session_repo)
    session = await session_repo.get("sess-01")
    session.chunks_count, session.size_bytes, session.stored_bytes = 3, 300, 120
    await session_repo.save(session)
    summary = await session_repo.summarize()
    assert summary.sessions_by_status == {"created": 9, "recording": 3}
    assert (summary.chunks_total, summary.size_bytes_total, summary.stored_bytes_total) == (
        3,
        300,
        120,
    )
    assert (await session_repo.summarize(owner="bob")).sessions_total == 6


async def test_data_survives_reopen(
    session_repo_pair: tuple[SessionRepository, Callable[[], SessionRepository] | None],
) -> None:
    repo, reopen = session_repo_pair
    if reopen is None:
        pytest.skip("the in-memory fake keeps nothing across instances, by design")
    session = make_session("sess-a", created_at=at(0) + timedelta(microseconds=123457))
    await repo.add(session)
    session.start(at(3))
    await repo.save(session)
    again = reopen()
    assert await again.get("sess-a") == session
    assert (await again.list(SessionQuery())).total == 1


async def test_sessions_being_deleted_are_left_out_unless_asked_for(
    session_repo: SessionRepository,
) -> None:
    kept, going = make_session("sess-kept"), make_session("sess-going", created_at=at(1))
    for session in (kept, going):
        await session_repo.add(session)
    going.begin_deletion("request", "ops", at(2), force=False)
    await session_repo.save(going)
    listed = await session_repo.list(SessionQuery())
    assert [s.session_id for s in listed.sessions] == ["sess-kept"]
    assert listed.total == 1
    deleting = await session_repo.list(SessionQuery(status=SessionStatus.DELETING))
    assert [s.session_id for s in deleting.sessions] == ["sess-going"]
    assert deleting.sessions[0].deletion == going.deletion
    assert (await session_repo.summarize()).sessions_total == 1


async def test_expiry_is_queried_in_the_store(session_repo: SessionRepository) -> None:
    from lucid_sessions.domain.values import StorageConfig

    short = make_session("sess-short", storage_config=StorageConfig(retention_days=1))
    long = make_session("sess-long", storage_config=StorageConfig(retention_days=30))
    held = make_session(
        "sess-held", storage_config=StorageConfig(retention_days=1, legal_hold=True)
    )
    running = make_session("sess-running", storage_config=StorageConfig(retention_days=1))
    for session in (short, long, held, running):
        await session_repo.add(session)
        session.start(at(10))
        if session is not running:
            session.stop(at(20))
        await session_repo.save(session)
    two_days = at(20) + timedelta(days=2)
    expired = await session_repo.list(SessionQuery(expires_before=two_days))
    assert [s.session_id for s in expired.sessions] == ["sess-short"]
    assert expired.sessions[0].expires_at == at(20) + timedelta(days=1)
    later = await session_repo.list(SessionQuery(expires_before=at(20) + timedelta(days=40)))
    assert {s.session_id for s in later.sessions} == {"sess-short", "sess-long"}


async def test_the_manifest_signing_key_id_is_kept(
    session_repo_pair: tuple[SessionRepository, Callable[[], SessionRepository] | None],
) -> None:
    repo, reopen = session_repo_pair
    session = make_session("sess-a")
    session.start(at(1))
    session.stop(at(2))
    session.begin_processing(at(3))
    await repo.add(session)
    assert (await repo.get("sess-a")).manifest_key_id is None, "not signed yet"
    session.sign_manifest(at(4), b"\x07" * 64, b"\x08" * 32, "0123456789abcdef")
    await repo.save(session)
    loaded = await repo.get("sess-a")
    assert loaded.manifest_key_id == "0123456789abcdef"
    assert (loaded.manifest_signature, loaded.manifest_public_key) == (b"\x07" * 64, b"\x08" * 32)
    loaded.complete(at(5))
    await repo.save(loaded)
    assert (await repo.get("sess-a")) == loaded
    if reopen is not None:
        assert (await reopen().get("sess-a")).manifest_key_id == "0123456789abcdef"
