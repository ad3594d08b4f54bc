"""Translation between the HTTP models and the domain, in both directions."""

from __future__ import annotations

from typing import TypeVar, cast

import msgspec

from lucid_sessions.adapters.http.schemas import (
    CreateSessionRequest,
    RDPConfigOut,
    RecordingConfigModel,
    SessionMetadataModel,
    SessionResponse,
    SessionStatistics,
    Status,
    StorageConfigModel,
    UpdateSessionRequest,
)
from lucid_sessions.app.usecases.change_session import SessionChanges
from lucid_sessions.app.usecases.common import SessionView
from lucid_sessions.app.usecases.create_session import NewSession
from lucid_sessions.domain.values import (
    RDPConfig,
    RecordingConfig,
    SessionMetadata,
    StorageConfig,
)

__all__ = ["changes_from_request", "new_session_from_request", "session_response"]

T = TypeVar("T")


def _domain(model: msgspec.Struct | None, kind: type[T]) -> T | None:
    """A request model as the domain value of the same fields (its own checks run)."""
    return None if model is None else msgspec.convert(model, kind, from_attributes=True)


def _model(value: object, kind: type[T]) -> T:
    """A domain value as the response model of the same fields."""
    return msgspec.convert(value, kind, from_attributes=True)


def new_session_from_request(data: CreateSessionRequest) -> NewSession:
    return NewSession(
        name=data.name,
        description=data.description,
        rdp_config=msgspec.convert(data.rdp_config, RDPConfig, from_attributes=True),
        recording_config=_domain(data.recording_config, RecordingConfig),
        storage_config=_domain(data.storage_config, StorageConfig),
        metadata=_domain(data.metadata, SessionMetadata),
    )


def _patch(model: msgspec.Struct | None) -> dict[str, object] | None:
    """The fields a patch model was sent with (null included, absent ones left out)."""
    if model is None:
        return None
    sent = msgspec.structs.asdict(model)
    return {name: _tuple(value) for name, value in sent.items() if value is not msgspec.UNSET}


def _tuple(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


def changes_from_request(data: UpdateSessionRequest) -> SessionChanges:
    return SessionChanges(
        name=data.name,
        description=data.description,
        metadata=_patch(data.metadata),
        storage_config=_patch(data.storage_config),
        recording_config=_domain(data.recording_config, RecordingConfig),
    )


def session_response(view: SessionView) -> SessionResponse:
    s, now = view.session, view.as_of
    assert s.updated_at is not None
    return SessionResponse(
        session_id=s.session_id,
        name=s.name,
        description=s.description,
        status=cast(Status, s.status.value),  # a session being deleted is never shown
        rdp_config=_model(s.rdp_config, RDPConfigOut),
        recording_config=_model(s.recording_config, RecordingConfigModel),
        storage_config=_model(s.storage_config, StorageConfigModel),
        metadata=_model(s.metadata, SessionMetadataModel),
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
