"""SqliteSessionRepository: sessions as JSON documents (`adapters.documents`) beside the
columns that lists filter, sort and sum on."""

from __future__ import annotations

import sqlite3
from typing import Any

from lucid_sessions.adapters.documents import from_json, to_json
from lucid_sessions.adapters.sqlite.database import SqliteDatabase
from lucid_sessions.adapters.sqlite.schema import epoch_micros
from lucid_sessions.domain.errors import ConcurrencyError, SessionNotFound
from lucid_sessions.domain.ports.session_repository import (
    SessionPage,
    SessionQuery,
    SessionRepository,
    SessionSummary,
)
from lucid_sessions.domain.session import Session, SessionStatus

__all__ = ["SqliteSessionRepository"]


def _row(session: Session, version: int) -> dict[str, Any]:
    """The row of `session` as stored at `version` (the document's own `version` is ignored:
    the column is the truth)."""
    meta = session.metadata
    return {
        "session_id": session.session_id,
        "version": version,
        "status": session.status.value,
        "project": meta.project,
        "environment": meta.environment,
        "owner": meta.owner,
        "created_us": epoch_micros(session.created_at),
        "chunks_count": session.chunks_count,
        "size_bytes": session.size_bytes,
        "stored_bytes": session.stored_bytes,
        "expires_us": None if session.expires_at is None else epoch_micros(session.expires_at),
        "doc": to_json(session).decode(),
    }


def _session(version: int, doc: str) -> Session:
    session = from_json(doc, Session)
    session.version = version
    return session


def _write_tags(conn: sqlite3.Connection, session: Session) -> None:
    conn.execute("DELETE FROM session_tags WHERE session_id = ?", (session.session_id,))
    conn.executemany(
        "INSERT OR IGNORE INTO session_tags (tag, session_id) VALUES (?, ?)",
        [(tag, session.session_id) for tag in session.metadata.tags],
    )


def _where(query: SessionQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for column, value in (
        ("status", None if query.status is None else query.status.value),
        ("project", query.project),
        ("environment", query.environment),
        ("owner", query.owner),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if query.tag is not None:
        clauses.append("session_id IN (SELECT session_id FROM session_tags WHERE tag = ?)")
        args.append(query.tag)
    if query.created_after is not None:
        clauses.append("created_us >= ?")
        args.append(epoch_micros(query.created_after))
    if query.created_before is not None:
        clauses.append("created_us < ?")
        args.append(epoch_micros(query.created_before))
    if query.expires_before is not None:
        clauses.append("expires_us < ?")
        args.append(epoch_micros(query.expires_before))
    if query.status is None:
        clauses.append("status != ?")
        args.append(SessionStatus.DELETING.value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


class SqliteSessionRepository(SessionRepository):
    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    async def add(self, session: Session) -> None:
        row = _row(session, session.version + 1)

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO sessions (session_id, version, status, project, environment,"
                    " owner, created_us, chunks_count, size_bytes, stored_bytes, expires_us, doc)"
                    " VALUES (:session_id, :version, :status, :project, :environment, :owner,"
                    " :created_us, :chunks_count, :size_bytes, :stored_bytes, :expires_us, :doc)",
                    row,
                )
            except sqlite3.IntegrityError as exc:
                raise ConcurrencyError(f"session {session.session_id!r} already exists") from exc
            _write_tags(conn, session)

        await self._db.run(insert)
        session.version += 1

    async def get(self, session_id: str, *, fresh: bool = False) -> Session:
        def select(conn: sqlite3.Connection) -> tuple[int, str] | None:
            found: tuple[int, str] | None = conn.execute(
                "SELECT version, doc FROM sessions WHERE session_id = ?", (session_id,)
            ).fetchone()
            return found

        row = await self._db.read_here(select)
        if row is None:
            raise SessionNotFound(session_id)
        return _session(*row)

    async def save(self, session: Session) -> None:
        row = _row(session, session.version + 1)
        row["expected"] = session.version

        def update(conn: sqlite3.Connection) -> None:
            changed = conn.execute(
                "UPDATE sessions SET version = :version, status = :status, project = :project,"
                " environment = :environment, owner = :owner, chunks_count = :chunks_count,"
                " size_bytes = :size_bytes, stored_bytes = :stored_bytes,"
                " expires_us = :expires_us, doc = :doc"
                " WHERE session_id = :session_id AND version = :expected",
                row,
            ).rowcount
            if changed == 0:
                exists = conn.execute(
                    "SELECT 1 FROM sessions WHERE session_id = ?", (session.session_id,)
                ).fetchone()
                if exists is None:
                    raise SessionNotFound(session.session_id)
                raise ConcurrencyError(
                    f"session {session.session_id!r} was changed by another request; retry"
                )
            _write_tags(conn, session)

        await self._db.run(update)
        session.version += 1

    async def delete(self, session_id: str, expected_version: int | None = None) -> None:
        def remove(conn: sqlite3.Connection) -> None:
            found = conn.execute(
                "SELECT version FROM sessions WHERE session_id = ?", (session_id,)
            ).fetchone()
            if found is None:
                raise SessionNotFound(session_id)
            if expected_version is not None and int(found[0]) != expected_version:
                raise ConcurrencyError(
                    f"session {session_id!r} was changed by another request; retry"
                )
            conn.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))

        await self._db.run(remove)

    async def list(self, query: SessionQuery) -> SessionPage:
        where, args = _where(query)
        by_status_only = _only_status_filter(query)

        def select(conn: sqlite3.Connection) -> tuple[list[tuple[int, str]], int]:
            if by_status_only:
                total = _total_of(conn, query.status)
            else:
                sql = f"SELECT COUNT(*) FROM sessions{where}"  # noqa: S608 - fixed columns, bound values
                total = int(conn.execute(sql, args).fetchone()[0])
            rows = conn.execute(
                f"SELECT version, doc FROM sessions{where}"  # noqa: S608 - fixed columns, bound values
                " ORDER BY created_us DESC, session_id DESC LIMIT ? OFFSET ?",
                [*args, query.limit, query.offset],
            ).fetchall()
            return rows, total

        rows, total = await self._db.read(select)
        return SessionPage(sessions=[_session(*row) for row in rows], total=total)

    async def summarize(self, owner: str | None = None) -> SessionSummary:
        if owner is None:
            sql, args = (
                "SELECT status, sessions, chunks, size_bytes, stored_bytes FROM session_totals"
                " WHERE status != ? AND sessions > 0",
                [SessionStatus.DELETING.value],
            )
        else:
            sql, args = (
                "SELECT status, COUNT(*), COALESCE(SUM(chunks_count), 0),"
                " COALESCE(SUM(size_bytes), 0), COALESCE(SUM(stored_bytes), 0)"
                " FROM sessions WHERE status != ? AND owner = ? GROUP BY status",
                [SessionStatus.DELETING.value, owner],
            )

        def select(conn: sqlite3.Connection) -> SessionSummary:
            rows = conn.execute(sql, args).fetchall()
            return SessionSummary(
                sessions_by_status={str(r[0]): int(r[1]) for r in rows},
                chunks_total=sum(int(r[2]) for r in rows),
                size_bytes_total=sum(int(r[3]) for r in rows),
                stored_bytes_total=sum(int(r[4]) for r in rows),
            )

        return await self._db.read(select)


def _only_status_filter(query: SessionQuery) -> bool:
    """Whether the list filters on nothing but (perhaps) the status: its total is then in
    `session_totals`."""
    return (
        query.project is None
        and query.environment is None
        and query.owner is None
        and query.tag is None
        and query.created_after is None
        and query.created_before is None
        and query.expires_before is None
    )


def _total_of(conn: sqlite3.Connection, status: SessionStatus | None) -> int:
    if status is None:
        row = conn.execute(
            "SELECT COALESCE(SUM(sessions), 0) FROM session_totals WHERE status != ?",
            (SessionStatus.DELETING.value,),
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT COALESCE(SUM(sessions), 0) FROM session_totals WHERE status = ?",
            (status.value,),
        ).fetchone()
    return int(row[0])
