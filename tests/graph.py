"""The service's own object graph with the in-memory fakes swapped in (the real Litestar app,
in process)."""

from __future__ import annotations

from pathlib import Path

from dependency_injector import providers

from lucid_sessions.adapters.memory import (
    FrozenClock,
    InMemoryChunkIndex,
    InMemoryDataKeyStore,
    InMemoryHealthProbe,
    InMemoryPipelineStats,
    InMemorySessionLog,
    InMemorySessionRepository,
    SequentialIdGenerator,
)
from lucid_sessions.adapters.system.local_leases import LocalLeases
from lucid_sessions.bootstrap.app import build_container
from lucid_sessions.bootstrap.container import Container
from lucid_sessions.bootstrap.settings import load_settings
from lucid_sessions.bootstrap.stores import Stores

__all__ = ["fake_container"]


def fake_container(tmp_path: Path, **environ: str) -> Container:
    settings = load_settings(
        {
            **environ,
            "LUCID_STORAGE_PATH": str(tmp_path / "sessions"),
            "LUCID_CHUNK_STORE_PATH": str(tmp_path / "chunks"),
            "LOG_LEVEL": "WARNING",
        }
    )
    container = build_container(settings)
    container.clock.override(providers.Object(FrozenClock()))
    container.ids.override(providers.Object(SequentialIdGenerator()))
    stores = Stores(
        "memory",
        InMemorySessionRepository(),
        InMemoryChunkIndex(),
        InMemoryDataKeyStore(),
        InMemoryPipelineStats(),
        InMemoryHealthProbe(),
        None,
        InMemorySessionLog(),
        LocalLeases(),
    )
    container.stores.override(providers.Object(stores))
    return container
