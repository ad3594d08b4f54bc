"""The embedded store upgrades a database written by an earlier version without losing data."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from lucid_sessions.adapters.sqlite import (
    SqliteChunkIndex,
    SqliteDatabase,
    SqliteMediaIndex,
    SqliteSessionRepository,
)
from lucid_sessions.adapters.sqlite.schema import MIGRATIONS, epoch_micros
from lucid_sessions.domain.errors import StorageUnavailable
from lucid_sessions.domain.media import Fragment
from lucid_sessions.domain.merkle import blake3_256, leaf_hash
from lucid_sessions.domain.ports.chunk_index import ChunkQuery
from lucid_sessions.domain.ports.media_index import MediaProgress
from lucid_sessions.domain.ports.session_repository import SessionQuery
from tests.factories import at, make_chunk_record, make_session

pytestmark = pytest.mark.anyio


def version_2_session_doc(session_id: str) -> dict[str, object]:
    """A session document as version 2 of the schema wrote it (bytes as hex)."""
    root = blake3_256(b"root")
    return {
        "schema": 1,
        "session_id": session_id,
        "name": "desk",
        "description": None,
        "rdp_config": {
            "host": "10.0.0.5",
            "port": 3389,
            "username": None,
            "domain": None,
            "use_tls": True,
            "ignore_cert": False,
        },
        "recording_config": {
            "frame_rate": 30,
            "resolution": "1920x1080",
            "quality": "high",
            "compression": "zstd",
            "compression_level": None,
            "bitrate": None,
            "audio_enabled": True,
            "cursor_enabled": True,
        },
        "storage_config": {
            "retention_days": 30,
            "max_size_gb": 10.0,
            "encryption_enabled": True,
            "compression_enabled": True,
            "legal_hold": False,
        },
        "metadata": {
            "project": "p",
            "environment": None,
            "tags": ["a"],
            "description": None,
            "owner": "ann",
            "priority": "normal",
        },
        "status": "recording",
        "created_at": "2026-01-01T00:00:00.250000+00:00",
        "updated_at": "2026-01-01T00:00:01+00:00",
        "started_at": "2026-01-01T00:00:01+00:00",
        "stopped_at": None,
        "completed_at": None,
        "paused_at": None,
        "paused_seconds": 0.0,
        "chunks_count": 1,
        "size_bytes": 5,
        "stored_bytes": 40,
        "frame_count": 0,
        "recorded_seconds": 0.0,
        "merkle_frontier": [root.hex()],
        "merkle_root": root.hex(),
        "pipeline_paused": False,
        "error": None,
        "finalized_at": None,
        "manifest_signature": None,
        "manifest_public_key": None,
        "version": 3,
    }


async def test_a_version_2_database_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    old = SqliteDatabase(path)
    old.open(MIGRATIONS[:2])
    doc = version_2_session_doc("sess-old")
    digest = blake3_256(b"hello")
    stamp = at(2) + timedelta(microseconds=123_456)

    def write(conn: object) -> None:
        conn.execute(  # type: ignore[attr-defined]
            "INSERT INTO sessions (session_id, version, status, project, environment, owner,"
            " created_us, chunks_count, size_bytes, stored_bytes, doc)"
            " VALUES (?, 3, 'recording', 'p', NULL, 'ann', ?, 1, 5, 40, ?)",
            ("sess-old", epoch_micros(at(0)), json.dumps(doc)),
        )
        conn.execute(  # type: ignore[attr-defined]
            "INSERT INTO chunks VALUES (?, 0, ?, ?, 5, 40, ?, 'none', 1.0, 1, 'aes-256-gcm',"
            " 2.5, 60)",
            ("sess-old", digest, leaf_hash(digest), epoch_micros(stamp)),
        )

    old.call(write)
    old.close()

    database = SqliteDatabase(path)
    database.open()
    try:
        session = await SqliteSessionRepository(database).get("sess-old")
        assert session.version == 3
        assert session.merkle_root == blake3_256(b"root")
        assert session.merkle_frontier == (blake3_256(b"root"),)
        assert session.created_at == at(0) + timedelta(milliseconds=250)
        assert session.metadata.tags == ("a",)
        index = SqliteChunkIndex(database)
        expected = make_chunk_record(
            "sess-old",
            0,
            data=b"hello",
            t=2.123,
            stored_size_bytes=40,
            compression="none",
            compression_ratio=1.0,
            duration_seconds=2.5,
            frame_count=60,
        )
        assert await index.get("sess-old", 0) == expected
        page = await index.find(ChunkQuery("sess-old", 1, start_time=at(2), end_time=at(3)))
        assert page.chunks == [expected]
        assert await index.leaf_hashes("sess-old", 1) == [leaf_hash(digest)]
    finally:
        database.close()


async def test_a_version_5_database_gains_the_media_index(tmp_path: Path) -> None:
    """A store made before playback (schema 5) opens with the media index's tables, empty,
    and keeps what it held."""
    path = tmp_path / "sessions.sqlite3"
    old = SqliteDatabase(path)
    old.open(MIGRATIONS[:5])
    await SqliteChunkIndex(old).put(make_chunk_record("sess-old", 0))
    old.close()

    database = SqliteDatabase(path)
    database.open()
    try:

        def version(conn: sqlite3.Connection) -> int:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

        assert await database.read(version) == len(MIGRATIONS) >= 6
        assert await SqliteChunkIndex(database).get("sess-old", 0) == make_chunk_record(
            "sess-old", 0
        )
        media = SqliteMediaIndex(database)
        assert await media.progress("sess-old") is None
        after = MediaProgress("sess-old", 1, 100, 1, b"state", at(0))
        fragment = Fragment(0, 40, 60, 0, 90_000, 90_000, starts_on_sync=True)
        assert await media.advance(None, after, [fragment])
        assert await media.progress("sess-old") == after
        assert await media.fragments("sess-old", 1) == [fragment]
    finally:
        database.close()


async def test_session_totals_follow_every_write(tmp_path: Path) -> None:
    """The per-status totals the triggers keep equal a count over the rows, after inserts,
    updates that move a session between statuses or grow it, and deletes."""
    from lucid_sessions.domain.session import SessionStatus
    from tests.factories import make_session

    database = SqliteDatabase(tmp_path / "s.sqlite3")
    database.open()
    repo = SqliteSessionRepository(database)
    try:
        sessions = [make_session(f"sess-{n}", created_at=at(n)) for n in range(6)]
        for session in sessions:
            await repo.add(session)
        for session in sessions[:4]:
            session.start(at(10))
            await repo.save(session)
        sessions[0].stop(at(11))
        await repo.save(sessions[0])
        await repo.delete("sess-5")

        def totals(conn: object) -> tuple[object, object]:
            kept = conn.execute(  # type: ignore[attr-defined]
                "SELECT status, sessions, chunks, size_bytes, stored_bytes FROM session_totals"
                " WHERE sessions > 0 ORDER BY status"
            ).fetchall()
            counted = conn.execute(  # type: ignore[attr-defined]
                "SELECT status, COUNT(*), SUM(chunks_count), SUM(size_bytes),"
                " SUM(stored_bytes) FROM sessions GROUP BY status ORDER BY status"
            ).fetchall()
            return kept, counted

        kept, counted = await database.read(totals)
        assert kept == counted
        summary = await repo.summarize()
        assert summary.sessions_by_status == {"created": 1, "recording": 3, "stopped": 1}
        everything = await repo.list(SessionQuery(limit=100))
        assert everything.total == 5
        recording = await repo.list(SessionQuery(status=SessionStatus.RECORDING))
        assert recording.total == 3
    finally:
        database.close()


async def test_reads_do_not_wait_for_a_write_in_progress(tmp_path: Path) -> None:
    """A write transaction held open (a slow commit, say) blocks neither pooled reads nor
    point reads: WAL readers see the last committed state."""
    import threading

    from tests.factories import make_session

    database = SqliteDatabase(tmp_path / "s.sqlite3")
    database.open()
    repo = SqliteSessionRepository(database)
    try:
        await repo.add(make_session("sess-a"))
        holding, release = threading.Event(), threading.Event()

        def hold(conn: object) -> None:
            conn.execute("UPDATE sessions SET version = version")  # type: ignore[attr-defined]
            holding.set()
            release.wait(60)

        writer = threading.Thread(target=database.call, args=(hold,))
        writer.start()
        try:
            assert holding.wait(10)
            with anyio.fail_after(30):  # the writer holds for 60 s: these must not wait
                assert (await repo.get("sess-a")).session_id == "sess-a"
                assert (await repo.list(SessionQuery())).total == 1
                assert (await repo.summarize()).sessions_by_status == {"created": 1}
        finally:
            release.set()
            writer.join()
    finally:
        database.close()


async def test_a_version_6_database_keeps_its_signed_sessions_without_key_ids(
    tmp_path: Path,
) -> None:
    """Sessions signed before manifests named their key have no `manifest_key_id` in their
    document: after the upgrade to 7 they load with None (their manifest body names no key)
    and keep their signature; the store is then refused by a version that knows only 6."""
    path = tmp_path / "sessions.sqlite3"
    old = SqliteDatabase(path)
    old.open(MIGRATIONS[:6])
    session = make_session("sess-old")
    session.start(at(1))
    session.stop(at(2))
    session.begin_processing(at(3))
    session.sign_manifest(at(4), b"\x07" * 64, b"\x08" * 32, "0123456789abcdef")
    session.complete(at(5))
    await SqliteSessionRepository(old).add(session)

    def as_version_6_wrote_it(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE sessions SET doc = json_remove(doc, '$.manifest_key_id')")

    old.call(as_version_6_wrote_it)
    old.close()

    database = SqliteDatabase(path)
    database.open()
    try:

        def version(conn: sqlite3.Connection) -> int:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

        assert await database.read(version) == len(MIGRATIONS) >= 7
        loaded = await SqliteSessionRepository(database).get("sess-old")
        assert loaded.manifest_key_id is None
        assert loaded.manifest_signature == b"\x07" * 64
        assert loaded.manifest_public_key == b"\x08" * 32
    finally:
        database.close()
    with pytest.raises(StorageUnavailable, match="newer"):
        SqliteDatabase(path).open(MIGRATIONS[:6])


def test_a_store_of_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    """A downgrade never runs on a schema it does not know: it stops and says why."""
    path = tmp_path / "sessions.sqlite3"
    database = SqliteDatabase(path)
    database.open()
    database.close()
    newer = len(MIGRATIONS) + 1
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {newer}")
    before = path.read_bytes()
    older = SqliteDatabase(path)
    with pytest.raises(StorageUnavailable, match=f"has schema {newer}, newer than"):
        older.open()
    assert path.read_bytes() == before
