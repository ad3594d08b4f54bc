"""The composition root: the one place where ports meet their adapters.

`Container` declares the whole graph with dependency-injector's providers. What it cannot make
itself comes in through its constructor: the settings, the data folders and the open stores
(required), and whatever a caller chooses to replace (tests pass their fakes the same way:
`Container(settings=..., folders=..., stores=fakes, clock=FrozenClock())`).

`open_container(settings)` is how the process gets one: it makes the data folders, opens the
stores the settings select (SQLite or MongoDB, and the Redis cache) and yields the container
built on them, closing the stores when the block ends. The stores are opened outside the
container rather than as an async `Resource`, because dependency-injector then makes every
provider downstream of them return an awaitable (see docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from dependency_injector import containers, providers

from lucid_sessions.adapters.crypto import (
    AesGcmCipher,
    ChaCha20Poly1305Cipher,
    verify_signature,
)
from lucid_sessions.adapters.http.draining import Draining
from lucid_sessions.adapters.http.upload import UploadLimits
from lucid_sessions.adapters.system.clock import SystemClock
from lucid_sessions.adapters.system.id_generator import UlidIdGenerator
from lucid_sessions.adapters.telemetry.prometheus import PrometheusTelemetry
from lucid_sessions.adapters.zstd_lz4.compressor import ZstdLz4Compressor
from lucid_sessions.app.blob_codec import BlobCodec
from lucid_sessions.app.claims import Claims
from lucid_sessions.app.finalization_runner import FinalizationRunner
from lucid_sessions.app.locks import KeyedLocks
from lucid_sessions.app.periodic import PeriodicJob
from lucid_sessions.app.usecases.anchoring import AnchorLog
from lucid_sessions.app.usecases.authenticate import Authenticate
from lucid_sessions.app.usecases.change_session import ControlRecording, UpdateSession
from lucid_sessions.app.usecases.create_session import CreateSession
from lucid_sessions.app.usecases.delete_session import DeleteSession, SessionDeleter
from lucid_sessions.app.usecases.finalize import FinalizeSession
from lucid_sessions.app.usecases.health import CheckHealth
from lucid_sessions.app.usecases.index_media import IndexMedia
from lucid_sessions.app.usecases.ingest_chunk import IngestChunk
from lucid_sessions.app.usecases.integrity import ProveIntegrity
from lucid_sessions.app.usecases.key_set import ReadKeySet
from lucid_sessions.app.usecases.pipeline import ControlPipeline
from lucid_sessions.app.usecases.playback import PlaybackLinks, ReadPlayback
from lucid_sessions.app.usecases.read_chunks import ChunkOpener, ReadChunks
from lucid_sessions.app.usecases.read_sessions import GetSession, ListSessions
from lucid_sessions.app.usecases.retention import SweepRetention
from lucid_sessions.app.usecases.rotate_keys import RewrapDataKeys
from lucid_sessions.app.usecases.session_log import ReadSessionLog
from lucid_sessions.app.usecases.statistics import ReadStatistics, RefreshFigures
from lucid_sessions.app.usecases.verify import VerifySession
from lucid_sessions.bootstrap import factories
from lucid_sessions.bootstrap.factories import DataFolders
from lucid_sessions.bootstrap.settings import Settings
from lucid_sessions.bootstrap.stores import Stores, open_stores
from lucid_sessions.domain.session import VISIBLE_STATUSES

__all__ = ["Container", "open_container"]


class Container(containers.DeclarativeContainer):
    # -- given by whoever builds the graph --------------------------------------------------
    settings = providers.Dependency(instance_of=Settings)
    folders = providers.Dependency(instance_of=DataFolders)
    stores = providers.Dependency(instance_of=Stores)
    """Open for as long as the container is used (`open_container` opens and closes them)."""
    create_missing = providers.Dependency(instance_of=bool, default=True)
    """False for the operator's commands: they never create an empty store or keys."""
    owner = providers.Dependency(
        instance_of=str, default=providers.Singleton(factories.process_owner)
    )
    """This process's name on the leases it takes (`serve` passes a name that outlives a
    restart: host and port)."""

    # -- the process -------------------------------------------------------------------------
    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UlidIdGenerator)
    telemetry = providers.Singleton(
        PrometheusTelemetry, tuple(status.value for status in VISIBLE_STATUSES)
    )
    authenticate = providers.Singleton(
        Authenticate, providers.Singleton(factories.authenticators, settings)
    )
    locks = providers.Singleton(KeyedLocks)
    draining = providers.Singleton(Draining)
    """Set on SIGTERM: new requests answer 503 while those in flight finish."""
    upload_limits = providers.Singleton(
        UploadLimits,
        settings.provided.max_chunk_bytes,
        settings.provided.upload_idle_timeout_seconds,
    )

    # -- storage -----------------------------------------------------------------------------
    session_repository = providers.Singleton(factories.session_repository, stores, telemetry)
    chunk_index = stores.provided.chunks
    data_keys = stores.provided.data_keys
    pipeline_stats = stores.provided.pipeline_stats
    database = stores.provided.database
    cache = stores.provided.cache
    session_log = stores.provided.session_log
    leases = stores.provided.leases
    claims = providers.Singleton(
        Claims, leases, clock, owner, ttl_seconds=settings.provided.lease_seconds
    )
    blob_store = providers.Singleton(factories.blob_store, settings, folders)
    min_free_bytes = providers.Callable(factories.min_free_bytes, settings)
    storage_probe = providers.Singleton(factories.storage_probe, settings, folders, blob_store)
    free_space = providers.Callable(factories.free_space_floor, settings, storage_probe)

    # -- crypto ------------------------------------------------------------------------------
    keyring = providers.Singleton(factories.keyring, settings, folders, create_missing)
    signer = providers.Singleton(factories.signer, settings, folders, create_missing)
    link_signer = providers.Singleton(factories.link_signer, settings, folders, create_missing)
    cipher_name = providers.Singleton(factories.cipher_name, settings)
    ciphers = providers.Dict(
        {
            "aes-256-gcm": providers.Singleton(AesGcmCipher),
            "chacha20-poly1305": providers.Singleton(ChaCha20Poly1305Cipher),
        }
    )
    codec = providers.Singleton(BlobCodec, providers.Singleton(ZstdLz4Compressor), ciphers, keyring)
    check_signature = providers.Object(verify_signature)

    # -- reading chunks ----------------------------------------------------------------------
    chunk_opener = providers.Singleton(
        ChunkOpener,
        index=chunk_index,
        blobs=blob_store,
        keys=data_keys,
        codec=codec,
        telemetry=telemetry,
    )
    read_chunks = providers.Singleton(
        ReadChunks, repo=session_repository, opener=chunk_opener, index=chunk_index
    )
    prove_integrity = providers.Singleton(
        ProveIntegrity, reader=read_chunks, index=chunk_index, opener=chunk_opener
    )
    verify_session = providers.Factory(
        VerifySession, reader=read_chunks, opener=chunk_opener, check_signature=check_signature
    )

    # -- playback ----------------------------------------------------------------------------
    media_index = stores.provided.media
    index_media = providers.Singleton(
        IndexMedia, media=media_index, chunks=chunk_index, opener=chunk_opener
    )
    read_playback = providers.Singleton(
        ReadPlayback,
        repo=session_repository,
        media=media_index,
        indexer=index_media,
        reader=read_chunks,
        locks=locks,
        claims=claims,
    )
    playback_links = providers.Singleton(
        PlaybackLinks, repo=session_repository, signer=link_signer, clock=clock
    )

    # -- the session log and anchoring -------------------------------------------------------
    read_session_log = providers.Singleton(
        ReadSessionLog, log=session_log, signer=signer, clock=clock
    )
    read_key_set = providers.Factory(ReadKeySet, signer=signer)
    anchor = providers.Singleton(factories.anchor, settings)
    anchor_log = providers.Singleton(
        AnchorLog,
        log=session_log,
        reader=read_session_log,
        anchor=anchor,
        telemetry=telemetry,
        claims=claims,
    )
    anchoring_job = providers.Singleton(
        PeriodicJob, "anchoring", anchor_log, settings.provided.anchor_interval_seconds
    )
    poke_anchoring = anchoring_job.provided.poke

    # -- finalization ------------------------------------------------------------------------
    finalize_session = providers.Factory(
        FinalizeSession,
        repo=session_repository,
        opener=chunk_opener,
        signer=signer,
        stats=pipeline_stats,
        clock=clock,
        log=session_log,
        telemetry=telemetry,
        on_logged=poke_anchoring,
    )
    finalization_runner = providers.Singleton(
        FinalizationRunner, finalize=finalize_session, repo=session_repository, claims=claims
    )
    schedule_finalization = finalization_runner.provided.schedule

    # -- sessions ----------------------------------------------------------------------------
    create_session = providers.Factory(CreateSession, repo=session_repository, clock=clock, ids=ids)
    get_session = providers.Factory(GetSession, repo=session_repository, clock=clock)
    list_sessions = providers.Factory(ListSessions, repo=session_repository, clock=clock)
    update_session = providers.Factory(UpdateSession, repo=session_repository, clock=clock)
    control_recording = providers.Factory(
        ControlRecording,
        repo=session_repository,
        clock=clock,
        on_stopped=schedule_finalization,
    )
    session_deleter = providers.Factory(
        SessionDeleter,
        repo=session_repository,
        index=chunk_index,
        blobs=blob_store,
        keys=data_keys,
        stats=pipeline_stats,
        log=session_log,
        clock=clock,
        telemetry=telemetry,
        media=media_index,
        on_logged=poke_anchoring,
    )
    delete_session = providers.Factory(
        DeleteSession, deleter=session_deleter, locks=locks, claims=claims
    )
    sweep_retention = providers.Factory(
        SweepRetention,
        repo=session_repository,
        deleter=session_deleter,
        clock=clock,
        telemetry=telemetry,
    )
    retention_job = providers.Singleton(
        PeriodicJob, "retention", sweep_retention, settings.provided.retention_interval_seconds
    )

    # -- chunks in -----------------------------------------------------------------------------
    ingest_chunk = providers.Factory(
        IngestChunk,
        repo=session_repository,
        index=chunk_index,
        blobs=blob_store,
        keys=data_keys,
        keyring=keyring,
        codec=codec,
        stats=pipeline_stats,
        clock=clock,
        locks=locks,
        claims=claims,
        cipher=cipher_name,
        telemetry=telemetry,
        media=index_media,
        space=free_space,
        min_free_bytes=min_free_bytes,
    )
    control_pipeline = providers.Factory(
        ControlPipeline,
        repo=session_repository,
        stats=pipeline_stats,
        clock=clock,
        on_resume=schedule_finalization,
    )
    rewrap_data_keys = providers.Factory(RewrapDataKeys, keys=data_keys, keyring=keyring)

    # -- health and figures ------------------------------------------------------------------
    check_health = providers.Factory(
        CheckHealth,
        clock=clock,
        database=database,
        storage=storage_probe,
        cache=cache,
        warnings=providers.Callable(factories.health_warnings, authenticate),
        keyring=keyring,
        signer=signer,
        check_signature=check_signature,
        usage=free_space,
        min_free_bytes=min_free_bytes,
    )
    read_statistics = providers.Factory(
        ReadStatistics, repo=session_repository, usage=storage_probe
    )
    refresh_figures = providers.Factory(
        RefreshFigures, statistics=read_statistics, log=session_log, telemetry=telemetry
    )


@asynccontextmanager
async def open_container(
    settings: Settings, *, create: bool = True, **given: Any
) -> AsyncIterator[Container]:
    """The graph for `settings` on its open stores; `create=False` (the operator's commands)
    makes no folder, store or key. `given` replaces providers by name (`owner=...`)."""
    folders = factories.data_folders(settings, create)
    async with open_stores(settings, create=create) as stores:
        yield Container(
            settings=settings, folders=folders, stores=stores, create_missing=create, **given
        )
