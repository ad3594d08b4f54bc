"""SqliteDataKeyStore: wrapped data keys in the embedded database."""

from __future__ import annotations

import sqlite3

from lucid_sessions.adapters.sqlite.database import SqliteDatabase
from lucid_sessions.domain.ports.data_key_store import DataKeyStore
from lucid_sessions.domain.ports.keyring import WrappedKey

__all__ = ["SqliteDataKeyStore"]


class SqliteDataKeyStore(DataKeyStore):
    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database

    @staticmethod
    def _select(conn: sqlite3.Connection, session_id: str) -> WrappedKey | None:
        row = conn.execute(
            "SELECT key_id, wrapped FROM data_keys WHERE session_id = ?", (session_id,)
        ).fetchone()
        return None if row is None else WrappedKey(key_id=row[0], wrapped=bytes(row[1]))

    async def get(self, session_id: str) -> WrappedKey | None:
        return await self._db.read_here(lambda conn: self._select(conn, session_id))

    async def put_if_absent(self, session_id: str, key: WrappedKey) -> WrappedKey:
        def insert(conn: sqlite3.Connection) -> WrappedKey:
            conn.execute(
                "INSERT OR IGNORE INTO data_keys (session_id, key_id, wrapped) VALUES (?, ?, ?)",
                (session_id, key.key_id, key.wrapped),
            )
            stored = self._select(conn, session_id)
            assert stored is not None
            return stored

        return await self._db.run(insert)

    async def replace(self, session_id: str, old: WrappedKey, new: WrappedKey) -> bool:
        def swap(conn: sqlite3.Connection) -> bool:
            changed = conn.execute(
                "UPDATE data_keys SET key_id = ?, wrapped = ?"
                " WHERE session_id = ? AND key_id = ? AND wrapped = ?",
                (new.key_id, new.wrapped, session_id, old.key_id, old.wrapped),
            ).rowcount
            return bool(changed)

        return await self._db.run(swap)

    async def all(self) -> list[tuple[str, WrappedKey]]:
        def select(conn: sqlite3.Connection) -> list[tuple[str, WrappedKey]]:
            rows = conn.execute(
                "SELECT session_id, key_id, wrapped FROM data_keys ORDER BY session_id"
            ).fetchall()
            return [(r[0], WrappedKey(key_id=r[1], wrapped=bytes(r[2]))) for r in rows]

        return await self._db.read(select)

    async def delete(self, session_id: str) -> None:
        await self._db.run(
            lambda conn: conn.execute("DELETE FROM data_keys WHERE session_id = ?", (session_id,))
        )
