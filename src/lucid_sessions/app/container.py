"""The composition root: the one place where ports meet their adapters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from dependency_injector import containers, providers

from lucid_sessions.adapters.fs.probe import FolderProbe
from lucid_sessions.adapters.metrics import Metrics
from lucid_sessions.adapters.sqlite.database import SqliteDatabase
from lucid_sessions.adapters.sqlite.sessions import SqliteSessionRepository
from lucid_sessions.adapters.system import SystemClock, UlidIdGenerator
from lucid_sessions.app.settings import Settings
from lucid_sessions.app.usecases.change_session import ControlRecording, UpdateSession
from lucid_sessions.app.usecases.create_session import CreateSession
from lucid_sessions.app.usecases.delete_session import DeleteSession
from lucid_sessions.app.usecases.health import CheckHealth
from lucid_sessions.app.usecases.read_sessions import GetSession, ListSessions
from lucid_sessions.app.usecases.statistics import SystemStatistics
from lucid_sessions.domain.principal import Principal, Role

__all__ = ["DEVELOPMENT_PRINCIPAL", "HTTP_DEPENDENCIES", "Container"]

DEVELOPMENT_PRINCIPAL = Principal(id="development", role=Role.ADMIN)


def open_database(settings: Settings) -> Iterator[SqliteDatabase]:
    database = SqliteDatabase(Path(settings.storage_path) / "sessions.sqlite3")
    database.open()
    try:
        yield database
    finally:
        database.close()


def prepare_folders(settings: Settings) -> Iterator[tuple[Path, ...]]:
    folders = (Path(settings.storage_path), Path(settings.chunk_store_path))
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    yield folders


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UlidIdGenerator)
    metrics = providers.Singleton(Metrics)
    principal = providers.Object(DEVELOPMENT_PRINCIPAL)

    folders = providers.Resource(prepare_folders, settings)
    database = providers.Resource(open_database, settings)
    session_repository = providers.Singleton(SqliteSessionRepository, database)
    storage_probe = providers.Singleton(lambda folders: FolderProbe(*folders), folders)

    check_health = providers.Factory(
        CheckHealth, clock=clock, database=database, storage=storage_probe
    )
    create_session = providers.Factory(CreateSession, repo=session_repository, clock=clock, ids=ids)
    get_session = providers.Factory(GetSession, repo=session_repository, clock=clock)
    list_sessions = providers.Factory(ListSessions, repo=session_repository, clock=clock)
    update_session = providers.Factory(UpdateSession, repo=session_repository, clock=clock)
    control_recording = providers.Factory(ControlRecording, repo=session_repository, clock=clock)
    delete_session = providers.Factory(DeleteSession, repo=session_repository)
    system_statistics = providers.Factory(
        SystemStatistics, repo=session_repository, usage=storage_probe
    )


# Litestar dependency name -> container provider name (the names handlers ask for).
HTTP_DEPENDENCIES: tuple[str, ...] = (
    "principal",
    "metrics",
    "check_health",
    "create_session",
    "get_session",
    "list_sessions",
    "update_session",
    "control_recording",
    "delete_session",
    "system_statistics",
)
