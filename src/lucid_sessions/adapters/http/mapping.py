"""Translation between the HTTP models and the domain, in both directions."""

from __future__ import annotations

from datetime import UTC, datetime

from lucid_sessions.adapters.http.schemas import (
    CreateSessionRequest,
    RDPConfigIn,
    RDPConfigOut,
    RecordingConfigModel,
    SessionMetadataModel,
    SessionResponse,
    SessionStatistics,
    StorageConfigModel,
    UpdateSessionRequest,
)
from lucid_sessions.app.usecases.change_session import SessionChanges
from lucid_sessions.app.usecases.common import SessionView
from lucid_sessions.app.usecases.create_session import NewSession
from lucid_sessions.domain.values import (
    Compression,
    Priority,
    Quality,
    RDPConfig,
    RecordingConfig,
    SessionMetadata,
    StorageConfig,
)

__all__ = ["as_utc", "changes_from_request", "new_session_from_request", "session_response"]


def as_utc(moment: datetime | None) -> datetime | None:
    """Query timestamps without an offset are read as UTC (the contract's time zone)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _rdp(model: RDPConfigIn) -> RDPConfig:
    return RDPConfig(
        host=model.host,
        port=model.port,
        username=model.username,
        domain=model.domain,
        use_tls=model.use_tls,
        ignore_cert=model.ignore_cert,
    )


def _recording(model: RecordingConfigModel | None) -> RecordingConfig | None:
    if model is None:
        return None
    return RecordingConfig(
        frame_rate=model.frame_rate,
        resolution=model.resolution,
        quality=Quality(model.quality),
        compression=Compression(model.compression),
        compression_level=model.compression_level,
        bitrate=model.bitrate,
        audio_enabled=model.audio_enabled,
        cursor_enabled=model.cursor_enabled,
    )


def _storage(model: StorageConfigModel | None) -> StorageConfig | None:
    if model is None:
        return None
    return StorageConfig(
        retention_days=model.retention_days,
        max_size_gb=model.max_size_gb,
        encryption_enabled=model.encryption_enabled,
        compression_enabled=model.compression_enabled,
        legal_hold=model.legal_hold,
    )


def _metadata(model: SessionMetadataModel | None) -> SessionMetadata | None:
    if model is None:
        return None
    return SessionMetadata(
        project=model.project,
        environment=model.environment,
        tags=tuple(model.tags),
        description=model.description,
        owner=model.owner,
        priority=Priority(model.priority),
    )


def new_session_from_request(data: CreateSessionRequest) -> NewSession:
    return NewSession(
        name=data.name,
        description=data.description,
        rdp_config=_rdp(data.rdp_config),
        recording_config=_recording(data.recording_config),
        storage_config=_storage(data.storage_config),
        metadata=_metadata(data.metadata),
    )


def changes_from_request(data: UpdateSessionRequest) -> SessionChanges:
    return SessionChanges(
        name=data.name,
        description=data.description,
        metadata=_metadata(data.metadata),
        storage_config=_storage(data.storage_config),
        recording_config=_recording(data.recording_config),
    )


def session_response(view: SessionView) -> SessionResponse:
    s, now = view.session, view.as_of
    rdp, rec, sto, meta = s.rdp_config, s.recording_config, s.storage_config, s.metadata
    assert s.updated_at is not None
    return SessionResponse(
        session_id=s.session_id,
        name=s.name,
        description=s.description,
        status=s.status.value,
        rdp_config=RDPConfigOut(
            host=rdp.host,
            port=rdp.port,
            username=rdp.username,
            domain=rdp.domain,
            use_tls=rdp.use_tls,
            ignore_cert=rdp.ignore_cert,
        ),
        recording_config=RecordingConfigModel(
            frame_rate=rec.frame_rate,
            resolution=rec.resolution,
            quality=rec.quality.value,
            compression=rec.compression.value,
            compression_level=rec.compression_level,
            bitrate=rec.bitrate,
            audio_enabled=rec.audio_enabled,
            cursor_enabled=rec.cursor_enabled,
        ),
        storage_config=StorageConfigModel(
            retention_days=sto.retention_days,
            max_size_gb=sto.max_size_gb,
            encryption_enabled=sto.encryption_enabled,
            compression_enabled=sto.compression_enabled,
            legal_hold=sto.legal_hold,
        ),
        metadata=SessionMetadataModel(
            project=meta.project,
            environment=meta.environment,
            tags=list(meta.tags),
            description=meta.description,
            owner=meta.owner,
            priority=meta.priority.value,
        ),
        created_at=s.created_at,
        updated_at=s.updated_at,
        started_at=s.started_at,
        stopped_at=s.stopped_at,
        completed_at=s.completed_at,
        statistics=SessionStatistics(
            duration_seconds=round(s.duration_seconds_at(now), 3),
            paused_seconds=round(s.paused_seconds_at(now), 3),
            chunks_count=s.chunks_count,
            size_bytes=s.size_bytes,
            stored_bytes=s.stored_bytes,
            frame_count=s.frame_count,
            compression_ratio=s.compression_ratio,
        ),
        merkle_root=None if s.merkle_root is None else s.merkle_root.hex(),
        error=s.error,
        pipeline_paused=s.pipeline_paused,
        version=s.version,
    )
