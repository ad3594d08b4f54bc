"""Ports under contract: each fixture hands a test every implementation of one port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from lucid_sessions.adapters.memory import InMemorySessionRepository
from lucid_sessions.adapters.sqlite import SqliteDatabase, SqliteSessionRepository
from lucid_sessions.domain.ports.sessions import SessionRepository

# A factory per implementation; `reopen` gives a fresh adapter over the same storage (or None
# where storage does not outlive the object, as for the in-memory fake).
RepoFactory = Callable[[Path], tuple[SessionRepository, Callable[[], SessionRepository] | None]]

SESSION_REPOSITORIES = ["memory", "sqlite"]


class Opened:
    def __init__(self) -> None:
        self.databases: list[SqliteDatabase] = []

    def sqlite(self, path: Path) -> SqliteSessionRepository:
        database = SqliteDatabase(path / "sessions.sqlite3")
        database.open()
        self.databases.append(database)
        return SqliteSessionRepository(database)


@pytest.fixture(params=SESSION_REPOSITORIES)
async def session_repo_pair(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[SessionRepository, Callable[[], SessionRepository] | None]]:
    opened = Opened()
    if request.param == "memory":
        yield InMemorySessionRepository(), None
    elif request.param == "sqlite":
        yield opened.sqlite(tmp_path), lambda: opened.sqlite(tmp_path)
    for database in opened.databases:
        database.close()


@pytest.fixture
def session_repo(
    session_repo_pair: tuple[SessionRepository, Callable[[], SessionRepository] | None],
) -> SessionRepository:
    return session_repo_pair[0]
