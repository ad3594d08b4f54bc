"""One SQLite database file shared by the embedded adapters.

Writes go through one connection guarded by a lock, each in a worker thread and its own
`BEGIN IMMEDIATE` transaction. WAL mode with synchronous=FULL: a committed write survives a
crash or power loss. Reads never queue behind it: WAL gives every reader a snapshot of what
was committed when it began, so

- `read` runs in a worker thread on one of a pool of read-only connections (lists, counts,
  sums: anything that may take milliseconds), and
- `read_here` runs on the calling thread (the event loop) on a read-only connection of its
  own, for point reads by primary key that take microseconds, where a hop to a worker thread
  would cost more than the read. Its busy timeout is short; when the file is busy it
  falls back to `read`.

The schema is upgraded on open, one migration per `PRAGMA user_version`, each in a transaction.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import anyio.to_thread
import msgspec

from lucid_sessions.adapters.documents import from_json, to_json
from lucid_sessions.domain.chunk import ChunkRecord
from lucid_sessions.domain.errors import StorageFull, StorageUnavailable
from lucid_sessions.domain.ports.health_probe import HealthProbe
from lucid_sessions.domain.session import Session

__all__ = ["SqliteDatabase", "epoch_micros"]

T = TypeVar("T")

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
]


READERS = 4
"""Read-only connections for worker threads; more readers than cores gains nothing."""


PRIVATE_MODE = 0o600
"""The database holds every session's metadata: readable by the service's user alone, like
the key files. SQLite gives its -wal and -shm files the database file's mode."""


def _private(path: Path) -> None:
    """Create the database file with `PRIVATE_MODE`, or bring an existing one (and its WAL
    and shared-memory files, as an older version left them) down to it."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_MODE))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            if file.stat().st_mode & 0o777 != PRIVATE_MODE:
                file.chmod(PRIVATE_MODE)


class SqliteDatabase(HealthProbe):
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._reader_count = 0
        self._readers_lock = threading.Lock()
        self._here = threading.local()  # each thread's own reader for `read_here`
        self._here_all: list[sqlite3.Connection] = []

    @property
    def path(self) -> Path:
        return self._path

    def open(self, migrations: list[Migration] | None = None, *, create: bool = True) -> None:
        """Open (and upgrade) the database; with `create=False` a missing file is an error."""
        if not create and not self._path.is_file():
            raise StorageUnavailable(
                f"there is no embedded store at {self._path.resolve()} (LUCID_STORAGE_PATH); "
                "nothing was created"
            )
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            _private(self._path)
            conn = sqlite3.connect(
                self._path, check_same_thread=False, isolation_level=None, timeout=30
            )
        except (OSError, sqlite3.Error) as exc:
            raise StorageUnavailable(f"cannot open the embedded database: {exc}") from exc
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        self._conn = conn
        try:
            self._migrate(MIGRATIONS if migrations is None else migrations)
        except BaseException:
            self._conn = None
            conn.close()
            raise

    def close(self) -> None:
        with self._readers_lock:  # the readers first: the writer's close checkpoints the WAL
            while not self._readers.empty():
                self._readers.get_nowait().close()
            self._reader_count = 0
            for conn in self._here_all:
                conn.close()
            self._here_all.clear()
            self._here = threading.local()
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("PRAGMA optimize")  # statistics for the planner
                self._conn.close()
                self._conn = None

    def _reader(self, busy_timeout_ms: int) -> sqlite3.Connection:
        self._require()
        conn = sqlite3.connect(
            f"file:{self._path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        conn.execute("PRAGMA query_only = ON")
        return conn

    def _take_reader(self) -> sqlite3.Connection:
        try:
            return self._readers.get_nowait()
        except queue.Empty:
            pass
        with self._readers_lock:
            if self._reader_count < READERS:
                self._reader_count += 1
                try:
                    return self._reader(30_000)
                except BaseException:
                    self._reader_count -= 1
                    raise
        return self._readers.get()  # every reader is busy: wait for one

    def read_call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one read transaction (a consistent snapshot) on a pooled reader."""
        conn = self._take_reader()
        try:
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                conn.execute("COMMIT")
        finally:
            if self._conn is None:
                conn.close()
            else:
                self._readers.put(conn)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run the read-only `fn` in a worker thread on a pooled reader (never behind a write)."""
        try:
            return await anyio.to_thread.run_sync(self.read_call, fn)
        except sqlite3.OperationalError as exc:
            raise StorageUnavailable(f"the embedded database failed: {exc}") from exc

    async def read_here(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read of microseconds (one row by primary key) right here, on this thread's
        own reader; when the file is busy (a checkpoint, a recovery), in a worker thread."""
        try:
            conn: sqlite3.Connection | None = getattr(self._here, "conn", None)
            if conn is None:
                conn = self._here.conn = self._reader(0)
                with self._readers_lock:
                    self._here_all.append(conn)
            return fn(conn)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise StorageUnavailable(f"the embedded database failed: {exc}") from exc
        return await self.read(fn)

    def _migrate(self, migrations: list[Migration]) -> None:
        conn = self._require()
        current = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if current > len(migrations):
            raise StorageUnavailable(
                f"the embedded store {self._path.resolve()} has schema {current}, newer than "
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

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageUnavailable("the embedded database is closed")
        return self._conn

    def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one transaction, holding the connection lock (blocking)."""
        with self._lock:
            conn = self._require()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one transaction in a worker thread."""
        try:
            return await anyio.to_thread.run_sync(self.call, fn)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode == sqlite3.SQLITE_FULL:
                raise StorageFull("the embedded database's disk is full") from exc
            raise StorageUnavailable(f"the embedded database failed: {exc}") from exc

    async def ping(self) -> bool:
        try:
            await self.run(lambda conn: conn.execute("SELECT 1").fetchone())
        except (sqlite3.Error, StorageUnavailable):
            return False
        return True
