"""The composition root: the one place where ports meet their adapters.

`Container` declares the whole graph; `running(container)` opens what has a life cycle (the
folders, the stores the settings select, the cache) and closes it again. Tests build the same
graph and swap fakes in with `container.<provider>.override(...)`.
"""

from __future__ import annotations

import inspect
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

from dependency_injector import containers, providers

from lucid_sessions.adapters.crypto import (
    AesGcmCipher,
    ChaCha20Poly1305Cipher,
    default_cipher_name,
    load_signer,
    verify_signature,
)
from lucid_sessions.adapters.crypto.keyring import (
    KeyConfigError,
    master_key_file_path,
    rotate_master_key,
)
from lucid_sessions.adapters.crypto.reloading_keyring import ReloadingKeyRing
from lucid_sessions.adapters.fs.blob_store import FilesystemBlobStore
from lucid_sessions.adapters.fs.storage_probe import FilesystemStorageProbe
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
from lucid_sessions.app.usecases.ingest_chunk import IngestChunk
from lucid_sessions.app.usecases.integrity import Integrity
from lucid_sessions.app.usecases.pipeline import PipelineControl
from lucid_sessions.app.usecases.read_chunks import ChunkOpener, ChunkReader
from lucid_sessions.app.usecases.read_sessions import GetSession, ListSessions
from lucid_sessions.app.usecases.retention import RetentionSweep
from lucid_sessions.app.usecases.rotate_keys import RewrapDataKeys
from lucid_sessions.app.usecases.session_log import SessionLogReader
from lucid_sessions.app.usecases.statistics import RefreshFigures, SystemStatistics
from lucid_sessions.app.usecases.verify import VerifySession
from lucid_sessions.bootstrap.factories import key_sources
from lucid_sessions.bootstrap.settings import MIB, SOURCES, Settings, SettingsError
from lucid_sessions.bootstrap.stores import Stores, open_stores
from lucid_sessions.domain.ports.anchor import Anchor
from lucid_sessions.domain.ports.authenticator import Authenticator
from lucid_sessions.domain.ports.blob_store import BlobStore
from lucid_sessions.domain.ports.cipher import Cipher, CipherName
from lucid_sessions.domain.ports.health_probe import HealthProbe
from lucid_sessions.domain.ports.signer import Signer
from lucid_sessions.domain.ports.usage_probe import UsageProbe
from lucid_sessions.domain.session import VISIBLE_STATUSES

__all__ = ["Container", "running"]

OPEN_WARNING = (
    "authentication is off: no tokens are configured, so every request runs as an "
    "administrator (development only; set LUCID_API_TOKENS, LUCID_API_TOKENS_FILE or "
    "JWT_SECRET_KEY)"
)


def _prepare_folders(settings: Settings, create: bool) -> Iterator[tuple[Path, ...]]:
    """The data folders; made when missing, unless this process only operates on an existing
    store (the operator's commands), which then stops with a clear message instead."""
    folders = (Path(settings.storage_path), Path(settings.chunk_store_path))
    for folder, name in zip(folders, ("storage_path", "chunk_store_path"), strict=True):
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        elif not folder.is_dir():
            env_name, _ = SOURCES[name]
            raise SettingsError(
                f"{env_name}: {folder.resolve()} does not exist, so there is no store to work "
                f"on; point {env_name} at the service's data (relative paths start from the "
                "current folder)"
            )
    yield folders


def _add_master_key(settings: Settings) -> str:
    """Add a new current master key to the key file in use; SettingsError when impossible."""
    try:
        return rotate_master_key(
            master_key_file_path(key_sources(settings), Path(settings.storage_path))
        )
    except KeyConfigError as exc:
        raise SettingsError(str(exc)) from exc


def _keyring(settings: Settings, create: bool, _folders: object) -> ReloadingKeyRing:
    try:
        # An operator's command uses the keys that exist and never makes new ones.
        folder = Path(settings.storage_path)
        return ReloadingKeyRing(key_sources(settings), folder, settings.production, generate=create)
    except KeyConfigError as exc:
        raise SettingsError(str(exc)) from exc


def _signer(settings: Settings, create: bool, _folders: object) -> Signer:
    try:
        folder = Path(settings.storage_path)
        return load_signer(key_sources(settings), folder, settings.production, generate=create)
    except KeyConfigError as exc:
        raise SettingsError(str(exc)) from exc


def _authenticators(settings: Settings) -> list[Authenticator]:
    """What the settings configure, in the order they are tried (cheapest first)."""
    from lucid_sessions.adapters.auth.tokens import (
        FileTokenAuthenticator,
        StaticTokenAuthenticator,
        TokenConfigError,
        parse_inline_tokens,
    )

    found: list[Authenticator] = []
    try:
        if settings.api_tokens:
            found.append(StaticTokenAuthenticator(parse_inline_tokens(settings.api_tokens)))
        if settings.api_tokens_file:
            path = Path(settings.api_tokens_file)
            found.append(FileTokenAuthenticator(path, production=settings.production))
        if settings.jwt_enabled:
            from lucid_sessions.adapters.auth.platform_jwt import JwtAuthenticator, load_public_key

            key = settings.jwt_secret_key or load_public_key(
                Path(settings.jwt_public_key_file), settings.jwt_algorithm
            )
            found.append(
                JwtAuthenticator(
                    key,
                    settings.jwt_algorithm,
                    issuer=settings.jwt_issuer,
                    admin_roles=settings.jwt_admin_roles,
                )
            )
    except TokenConfigError as exc:
        raise SettingsError(str(exc)) from exc
    return found


def _process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _health_warnings(authenticate: Authenticate) -> tuple[str, ...]:
    return (OPEN_WARNING,) if authenticate.open else ()


def _blob_store(settings: Settings, _folders: object) -> BlobStore:
    """The chunk store the settings select: the filesystem (rid of the temporary files a
    crash mid-write may have left) or an S3 bucket."""
    if settings.blob_store == "s3":
        return _s3_blobs(settings)
    store = FilesystemBlobStore(Path(settings.chunk_store_path))
    store.sweep_temporaries()
    return store


def _s3_blobs(settings: Settings) -> BlobStore:
    from lucid_sessions.adapters.s3.blob_store import S3BlobStore, s3_store
    from lucid_sessions.adapters.s3.credentials import S3ConfigError, load_s3_credentials

    key_id, secret = settings.s3_access_key_id, settings.s3_secret_access_key
    if settings.s3_credentials_file:
        try:
            key_id, secret = load_s3_credentials(
                Path(settings.s3_credentials_file), production=settings.production
            )
        except S3ConfigError as exc:
            raise SettingsError(str(exc)) from exc
    store = s3_store(
        settings.s3_bucket,
        endpoint=settings.s3_endpoint.rstrip("/"),
        region=settings.s3_region,
        prefix=settings.s3_prefix,
        addressing=settings.s3_addressing,
        access_key_id=key_id,
        secret_access_key=secret,
    )
    return S3BlobStore(store, where=f"bucket {settings.s3_bucket}")


def _storage_probe(
    settings: Settings, folders: tuple[Path, ...], blobs: BlobStore
) -> FilesystemStorageProbe | HealthProbe:
    """Both data folders must be writable (and the bucket answer, with S3); free and used
    space are the chunk store's folder (the data folder's with S3)."""
    local = FilesystemStorageProbe(folders[1], folders[0])
    if settings.blob_store != "s3":
        return local
    from lucid_sessions.adapters.s3.blob_store import S3BlobStore
    from lucid_sessions.adapters.s3.storage_probe import S3StorageProbe

    assert isinstance(blobs, S3BlobStore)
    return S3StorageProbe(local, blobs)


def _free_space_floor(settings: Settings, probe: UsageProbe) -> UsageProbe | None:
    """What measures free space for the ingest floor and health's `free_space`: the chunk
    store's folder; nothing with S3 (an object store has no floor to keep)."""
    return None if settings.blob_store == "s3" else probe


def _anchor(settings: Settings) -> Anchor:
    """The blockchain engine over HTTP when BLOCKCHAIN_ENGINE_URL is set, else a log line."""
    if not settings.blockchain_engine_url:
        from lucid_sessions.adapters.anchor.logging_anchor import LoggingAnchor

        return LoggingAnchor()
    from lucid_sessions.adapters.anchor.http_anchor import HttpAnchor

    return HttpAnchor(settings.blockchain_engine_url)


def _cipher_name(settings: Settings) -> CipherName:
    return default_cipher_name() if settings.cipher == "auto" else settings.cipher


def _codec(keyring: ReloadingKeyRing) -> BlobCodec:
    ciphers: dict[CipherName, Cipher] = {
        "aes-256-gcm": AesGcmCipher(),
        "chacha20-poly1305": ChaCha20Poly1305Cipher(),
    }
    return BlobCodec(ZstdLz4Compressor(), ciphers, keyring)


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UlidIdGenerator)
    telemetry = providers.Singleton(
        PrometheusTelemetry, tuple(status.value for status in VISIBLE_STATUSES)
    )
    authenticate = providers.Singleton(Authenticate, providers.Singleton(_authenticators, settings))
    locks = providers.Singleton(KeyedLocks)
    owner = providers.Singleton(_process_owner)
    """This process's name on the leases it takes (host, pid and a random part)."""
    draining = providers.Singleton(Draining)
    """Set on SIGTERM: new requests answer 503 while those in flight finish."""
    upload_limits = providers.Callable(
        lambda s: UploadLimits(s.max_chunk_bytes, s.upload_idle_timeout_seconds), settings
    )

    # -- storage ---------------------------------------------------------------------------
    create_missing = providers.Object(True)
    """False for the operator's commands: they never create an empty store or keys."""
    folders = providers.Resource(_prepare_folders, settings, create_missing)
    # Opened asynchronously by `running()` (SQLite or MongoDB, plus the Redis cache).
    stores = providers.Dependency(instance_of=Stores)
    session_repository = providers.Callable(lambda s: s.sessions, stores)
    chunk_index = providers.Callable(lambda s: s.chunks, stores)
    data_keys = providers.Callable(lambda s: s.data_keys, stores)
    pipeline_stats = providers.Callable(lambda s: s.pipeline_stats, stores)
    database = providers.Callable(lambda s: s.database, stores)
    cache = providers.Callable(lambda s: s.cache, stores)
    session_log = providers.Callable(lambda s: s.session_log, stores)
    leases = providers.Callable(lambda s: s.leases, stores)
    claims = providers.Singleton(
        lambda leases, clock, owner, s: Claims(leases, clock, owner, ttl_seconds=s.lease_seconds),
        leases,
        clock,
        owner,
        settings,
    )
    blob_store = providers.Singleton(_blob_store, settings, folders)
    chunk_store_min_free_bytes = providers.Callable(
        lambda s: s.chunk_store_min_free_mb * MIB, settings
    )
    storage_probe = providers.Singleton(_storage_probe, settings, folders, blob_store)
    free_space = providers.Callable(_free_space_floor, settings, storage_probe)

    # -- crypto ----------------------------------------------------------------------------
    keyring = providers.Singleton(_keyring, settings, create_missing, folders)
    signer = providers.Singleton(_signer, settings, create_missing, folders)
    cipher_name = providers.Singleton(_cipher_name, settings)
    codec = providers.Singleton(_codec, keyring)
    check_signature = providers.Object(verify_signature)

    # -- use cases ---------------------------------------------------------------------------
    chunk_opener = providers.Singleton(
        ChunkOpener,
        index=chunk_index,
        blobs=blob_store,
        keys=data_keys,
        codec=codec,
        telemetry=telemetry,
    )
    chunk_reader = providers.Singleton(
        ChunkReader, repo=session_repository, opener=chunk_opener, index=chunk_index
    )
    # -- the session log and anchoring ------------------------------------------------------
    log_reader = providers.Singleton(SessionLogReader, log=session_log, signer=signer, clock=clock)
    anchor = providers.Singleton(_anchor, settings)
    anchor_log = providers.Singleton(
        AnchorLog,
        log=session_log,
        reader=log_reader,
        anchor=anchor,
        telemetry=telemetry,
        claims=claims,
    )
    anchoring_job = providers.Singleton(
        lambda work, s: PeriodicJob("anchoring", work, s.anchor_interval_seconds),
        anchor_log,
        settings,
    )
    poke_anchoring = providers.Callable(lambda job: job.poke, anchoring_job)

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
    schedule_finalization = providers.Callable(lambda runner: runner.schedule, finalization_runner)
    check_health = providers.Factory(
        CheckHealth,
        clock=clock,
        database=database,
        storage=storage_probe,
        cache=cache,
        warnings=providers.Callable(_health_warnings, authenticate),
        signer=signer,
        check_signature=check_signature,
        usage=free_space,
        min_free_bytes=chunk_store_min_free_bytes,
    )
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
        on_logged=poke_anchoring,
    )
    delete_session = providers.Factory(
        DeleteSession, deleter=session_deleter, locks=locks, claims=claims
    )
    retention_sweep = providers.Factory(
        RetentionSweep,
        repo=session_repository,
        deleter=session_deleter,
        clock=clock,
        telemetry=telemetry,
    )
    retention_job = providers.Singleton(
        lambda sweep, s: PeriodicJob("retention", sweep, s.retention_interval_seconds),
        retention_sweep,
        settings,
    )
    system_statistics = providers.Factory(
        SystemStatistics, repo=session_repository, usage=storage_probe
    )
    refresh_figures = providers.Factory(
        RefreshFigures, statistics=system_statistics, log=session_log, telemetry=telemetry
    )
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
        space=free_space,
        min_free_bytes=chunk_store_min_free_bytes,
    )
    integrity = providers.Singleton(
        Integrity, reader=chunk_reader, index=chunk_index, opener=chunk_opener
    )
    verify_session = providers.Factory(
        VerifySession, reader=chunk_reader, opener=chunk_opener, check_signature=check_signature
    )
    rewrap_data_keys = providers.Factory(RewrapDataKeys, keys=data_keys, keyring=keyring)
    add_master_key = providers.Callable(
        lambda settings: lambda: _add_master_key(settings), settings
    )
    pipeline_control = providers.Factory(
        PipelineControl,
        repo=session_repository,
        stats=pipeline_stats,
        clock=clock,
        on_resume=schedule_finalization,
    )


@asynccontextmanager
async def running(container: Container) -> AsyncIterator[Container]:
    """Open every resource (folders, the selected stores, the cache) and close them again.

    Re-entrant: inside an open `running(container)`, another one for the same container opens
    nothing (the server opens the graph before it binds, and the app's lifespan finds it open).
    """
    depth: int = getattr(container, "_running_depth", 0)
    container._running_depth = depth + 1
    try:
        if depth:
            yield container
            return
        outcome = container.init_resources()
        if inspect.isawaitable(outcome):
            await outcome
        try:
            if container.stores.overridden:  # a test graph with fakes: nothing to open
                yield container
            else:
                opening = open_stores(
                    container.settings(),
                    container.telemetry(),
                    create=container.create_missing(),
                )
                async with opening as stores:
                    container.stores.override(providers.Object(stores))
                    try:
                        yield container
                    finally:
                        container.stores.reset_override()
            container.reset_singletons()
        finally:
            outcome = container.shutdown_resources()
            if inspect.isawaitable(outcome):
                await outcome
    finally:
        container._running_depth = depth
