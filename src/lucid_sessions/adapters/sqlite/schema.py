"""The embedded store's schema: the migrations that build it, one per `PRAGMA user_version`.

`upgrade` brings a database up to the newest version on open, each migration in its own
`BEGIN IMMEDIATE` transaction, and refuses a database newer than this version knows. A
migration is SQL statements, or a function for a rewrite SQL alone cannot do. The time columns
hold `epoch_micros`: exact microseconds since the epoch, sortable as integers.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from lucid_sessions.adapters.documents import from_json, to_json
from lucid_sessions.domain.chunk import ChunkRecord
from lucid_sessions.domain.errors import StorageUnavailable
from lucid_sessions.domain.session import Session

__all__ = ["EPOCH", "MIGRATIONS", "Migration", "epoch_micros", "upgrade"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_micros(moment: datetime) -> int:
    """Exact microseconds since the epoch: the sortable integer the time columns hold."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def _stored_shapes(conn: sqlite3.Connection) -> None:
    """Version 3: sessions and chunks stored as the shared shapes of `adapters.documents`.

    Version 2 kept session documents with bytes as hex, and chunk records one column per
    field; both are rewritten here, once.
    """
    for session_id, doc in conn.execute("SELECT session_id, doc FROM sessions").fetchall():
        old = json.loads(doc)
        old.pop("schema", None)
        for name in ("merkle_root", "manifest_signature", "manifest_public_key"):
            if old.get(name) is not None:
                old[name] = bytes.fromhex(old[name])
        old["merkle_frontier"] = [bytes.fromhex(h) for h in old.get("merkle_frontier", ())]
        session = msgspec.convert(old, Session, builtin_types=(bytes,))
        conn.execute(
            "UPDATE sessions SET doc = ? WHERE session_id = ?",
            (to_json(session).decode(), session_id),
        )
    conn.execute("DROP INDEX chunks_time")
    conn.execute("ALTER TABLE chunks RENAME TO chunks_v2")
    conn.execute(
        "CREATE TABLE chunks (session_id TEXT NOT NULL, sequence_number INTEGER NOT NULL,"
        " timestamp_us INTEGER NOT NULL, leaf_hash BLOB NOT NULL, doc TEXT NOT NULL,"
        " PRIMARY KEY (session_id, sequence_number)) WITHOUT ROWID"
    )
    conn.execute("CREATE INDEX chunks_time ON chunks (session_id, timestamp_us)")
    columns = (
        "session_id, sequence_number, blake3, leaf_hash, size_bytes, stored_size_bytes,"
        " timestamp_us, compression, compression_ratio, encrypted, cipher, duration_seconds,"
        " frame_count"
    )
    for row in conn.execute(f"SELECT {columns} FROM chunks_v2").fetchall():  # noqa: S608
        record = ChunkRecord(
            session_id=row[0],
            sequence_number=row[1],
            blake3=bytes(row[2]),
            leaf_hash=bytes(row[3]),
            size_bytes=row[4],
            stored_size_bytes=row[5],
            timestamp=EPOCH + timedelta(microseconds=row[6]),
            compression=row[7],
            compression_ratio=row[8],
            encrypted=bool(row[9]),
            cipher=row[10],
            duration_seconds=row[11],
            frame_count=row[12],
        )
        conn.execute(
            "INSERT INTO chunks (session_id, sequence_number, timestamp_us, leaf_hash, doc)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                record.session_id,
                record.sequence_number,
                epoch_micros(record.timestamp),
                record.leaf_hash,
                to_json(record).decode(),
            ),
        )
    conn.execute("DROP TABLE chunks_v2")


def _session_log_and_expiry(conn: sqlite3.Connection) -> None:
    """Version 4: the session log, its anchoring state, and each session's expiry."""
    conn.execute(
        "CREATE TABLE session_log (idx INTEGER PRIMARY KEY, session_id TEXT NOT NULL,"
        " type TEXT NOT NULL, doc TEXT NOT NULL, UNIQUE (session_id, type))"
    )
    conn.execute(
        "CREATE TABLE log_state (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID"
    )
    conn.execute("ALTER TABLE sessions ADD COLUMN expires_us INTEGER")
    conn.execute(
        "CREATE INDEX sessions_expiry ON sessions (expires_us) WHERE expires_us IS NOT NULL"
    )
    for session_id, doc in conn.execute("SELECT session_id, doc FROM sessions").fetchall():
        expires = from_json(doc, Session).expires_at
        if expires is not None:
            conn.execute(
                "UPDATE sessions SET expires_us = ? WHERE session_id = ?",
                (epoch_micros(expires), session_id),
            )


_TOTALS_ADD = """
    INSERT INTO session_totals (status, sessions, chunks, size_bytes, stored_bytes)
    VALUES (NEW.status, 1, NEW.chunks_count, NEW.size_bytes, NEW.stored_bytes)
    ON CONFLICT (status) DO UPDATE SET sessions = sessions + 1,
        chunks = chunks + excluded.chunks, size_bytes = size_bytes + excluded.size_bytes,
        stored_bytes = stored_bytes + excluded.stored_bytes;
"""
_TOTALS_REMOVE = """
    UPDATE session_totals SET sessions = sessions - 1, chunks = chunks - OLD.chunks_count,
        size_bytes = size_bytes - OLD.size_bytes, stored_bytes = stored_bytes - OLD.stored_bytes
    WHERE status = OLD.status;
"""


def _list_indexes_and_totals(conn: sqlite3.Connection) -> None:
    """Version 5: lists that count fast.

    - Indexes over every list filter column, led by the pairs lists combine (project and
      environment, environment and status, owner and status) and then in list order: the
      page of such a list is read in order from the index, and its `total` counts index
      entries, never rows.
    - `session_totals`: sessions, chunks and bytes per status, kept by triggers, so a list
      without filters, its total and the service-wide statistics read a few rows instead of
      every session.
    """
    for statement in (
        "CREATE INDEX sessions_by_project ON sessions"
        " (project, environment, created_us DESC, session_id DESC, status, owner)",
        "CREATE INDEX sessions_by_environment ON sessions"
        " (environment, status, created_us DESC, session_id DESC, project, owner)",
        "CREATE INDEX sessions_by_owner ON sessions"
        " (owner, status, created_us DESC, session_id DESC, environment, project)",
        "CREATE TABLE session_totals (status TEXT PRIMARY KEY, sessions INTEGER NOT NULL,"
        " chunks INTEGER NOT NULL, size_bytes INTEGER NOT NULL, stored_bytes INTEGER NOT NULL)"
        " WITHOUT ROWID",
        "INSERT INTO session_totals SELECT status, COUNT(*), SUM(chunks_count),"
        " SUM(size_bytes), SUM(stored_bytes) FROM sessions GROUP BY status",
        f"CREATE TRIGGER sessions_totals_insert AFTER INSERT ON sessions BEGIN {_TOTALS_ADD} END",
        f"CREATE TRIGGER sessions_totals_delete AFTER DELETE ON sessions"
        f" BEGIN {_TOTALS_REMOVE} END",
        "CREATE TRIGGER sessions_totals_update"
        " AFTER UPDATE OF status, chunks_count, size_bytes, stored_bytes ON sessions"
        f" BEGIN {_TOTALS_REMOVE} {_TOTALS_ADD} END",
    ):
        conn.execute(statement)


_MEDIA_INDEX = """
    CREATE TABLE media_progress (
        session_id TEXT PRIMARY KEY,
        chunks     INTEGER NOT NULL,
        position   INTEGER NOT NULL,
        fragments  INTEGER NOT NULL,
        reader     BLOB NOT NULL,
        started_us INTEGER
    );
    CREATE TABLE media_fragments (
        session_id TEXT NOT NULL,
        idx        INTEGER NOT NULL,
        offset     INTEGER NOT NULL,
        length     INTEGER NOT NULL,
        start      INTEGER NOT NULL,
        duration   INTEGER NOT NULL,
        timescale  INTEGER NOT NULL,
        sync       INTEGER NOT NULL,
        PRIMARY KEY (session_id, idx)
    ) WITHOUT ROWID;
"""
"""Version 6: playback's media index (`SqliteMediaIndex`). `media_progress` keeps its rowid:
its `reader` may hold megabytes, and a WITHOUT ROWID table suits small rows only."""


def _manifest_key_ids(conn: sqlite3.Connection) -> None:
    """Version 7: a session names the key that signed its manifest (`manifest_key_id`, in
    its document). Nothing is rewritten: a document without the field is a manifest signed
    before keys had ids, and decodes to None. The version rises so that an earlier
    lucid-sessions refuses this store: it would drop the field on its next save of a
    session, and that session's manifest would no longer verify."""


Migration = str | Callable[[sqlite3.Connection], None]

# Each entry upgrades the schema by one version (PRAGMA user_version).
MIGRATIONS: list[Migration] = [
    """
    CREATE TABLE sessions (
        session_id   TEXT PRIMARY KEY,
        version      INTEGER NOT NULL,
        status       TEXT NOT NULL,
        project      TEXT,
        environment  TEXT,
        owner        TEXT,
        created_us   INTEGER NOT NULL,
        chunks_count INTEGER NOT NULL,
        size_bytes   INTEGER NOT NULL,
        stored_bytes INTEGER NOT NULL,
        doc          TEXT NOT NULL
    );
    CREATE INDEX sessions_newest ON sessions (created_us DESC, session_id DESC);
    CREATE INDEX sessions_status ON sessions (status, created_us DESC, session_id DESC);
    CREATE INDEX sessions_project ON sessions (project, created_us DESC, session_id DESC);
    CREATE INDEX sessions_environment
        ON sessions (environment, created_us DESC, session_id DESC);
    CREATE INDEX sessions_owner ON sessions (owner, created_us DESC, session_id DESC);
    CREATE TABLE session_tags (
        tag        TEXT NOT NULL,
        session_id TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
        PRIMARY KEY (tag, session_id)
    ) WITHOUT ROWID;
    CREATE INDEX session_tags_session ON session_tags (session_id);
    """,
    """
    CREATE TABLE chunks (
        session_id        TEXT NOT NULL,
        sequence_number   INTEGER NOT NULL,
        blake3            BLOB NOT NULL,
        leaf_hash         BLOB NOT NULL,
        size_bytes        INTEGER NOT NULL,
        stored_size_bytes INTEGER NOT NULL,
        timestamp_us      INTEGER NOT NULL,
        compression       TEXT NOT NULL,
        compression_ratio REAL NOT NULL,
        encrypted         INTEGER NOT NULL,
        cipher            TEXT,
        duration_seconds  REAL,
        frame_count       INTEGER,
        PRIMARY KEY (session_id, sequence_number)
    ) WITHOUT ROWID;
    CREATE INDEX chunks_time ON chunks (session_id, timestamp_us);
    CREATE TABLE data_keys (
        session_id TEXT PRIMARY KEY,
        key_id     TEXT NOT NULL,
        wrapped    BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE pipeline_stats (
        session_id TEXT NOT NULL,
        stage      TEXT NOT NULL,
        processed  INTEGER NOT NULL,
        failed     INTEGER NOT NULL,
        bytes_in   INTEGER NOT NULL,
        bytes_out  INTEGER NOT NULL,
        seconds    REAL NOT NULL,
        last_error TEXT,
        PRIMARY KEY (session_id, stage)
    ) WITHOUT ROWID;
    """,
    _stored_shapes,
    _session_log_and_expiry,
    _list_indexes_and_totals,
    _MEDIA_INDEX,
    _manifest_key_ids,
]


def upgrade(conn: sqlite3.Connection, path: Path, migrations: list[Migration]) -> None:
    """Run the migrations `conn`'s database (the file at `path`) has not had yet, in order;
    `StorageUnavailable` for a schema newer than `migrations` knows."""
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if current > len(migrations):
        raise StorageUnavailable(
            f"the embedded store {path.resolve()} has schema {current}, newer than "
            f"this version of lucid-sessions knows ({len(migrations)}): run the newer "
            "version, or restore a backup taken before the upgrade"
        )
    for number, step in enumerate(migrations[current:], start=current + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if callable(step):
                step(conn)
            else:
                for statement in step.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
