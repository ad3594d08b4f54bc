"""One SQLite database file shared by the embedded adapters: its connections.

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

Opening upgrades the schema (`adapters.sqlite.schema`).
"""

from __future__ import annotations

import contextlib
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import anyio.to_thread

from lucid_sessions.adapters.sqlite.schema import MIGRATIONS, Migration, upgrade
from lucid_sessions.domain.errors import StorageFull, StorageUnavailable
from lucid_sessions.domain.ports.health_probe import HealthProbe

__all__ = ["SqliteDatabase"]

T = TypeVar("T")


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
            upgrade(conn, self._path, MIGRATIONS if migrations is None else migrations)
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
