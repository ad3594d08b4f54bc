"""The service's own object graph, `Container`, built on the in-memory fakes: the same root
the process uses, with its stores, clock and ids (and anything a test names) passed in."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
from lucid_sessions.adapters.memory.media_index import InMemoryMediaIndex
from lucid_sessions.adapters.system.local_leases import LocalLeases
from lucid_sessions.bootstrap.container import Container
from lucid_sessions.bootstrap.factories import data_folders
from lucid_sessions.bootstrap.settings import load_settings
from lucid_sessions.bootstrap.stores import Stores

__all__ = ["fake_container", "fake_stores"]


def fake_stores() -> Stores:
    """Every persistence port on its in-memory fake, as `open_stores` would yield them."""
    return Stores(
        "memory",
        InMemorySessionRepository(),
        InMemoryChunkIndex(),
        InMemoryDataKeyStore(),
        InMemoryPipelineStats(),
        InMemoryHealthProbe(),
        None,
        InMemorySessionLog(),
        LocalLeases(),
        InMemoryMediaIndex(),
    )


def fake_container(
    tmp_path: Path, environ: Mapping[str, str] | None = None, **given: Any
) -> Container:
    """The graph on fakes, its data folders under `tmp_path`; `environ` adds settings and
    `given` replaces providers by name (`blob_store=...`, `telemetry=...`)."""
    settings = load_settings(
        {
            **(environ or {}),
            "LUCID_STORAGE_PATH": str(tmp_path / "sessions"),
            "LUCID_CHUNK_STORE_PATH": str(tmp_path / "chunks"),
            "LOG_LEVEL": "WARNING",
        }
    )
    defaults: dict[str, Any] = {
        "stores": fake_stores(),
        "clock": FrozenClock(),
        "ids": SequentialIdGenerator(),
    }
    return Container(
        settings=settings,
        folders=data_folders(settings, create=True),
        **(defaults | given),
    )
