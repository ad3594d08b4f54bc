"""Create a session."""

from __future__ import annotations

from dataclasses import dataclass, replace

from lucid_sessions.app.usecases.common import SessionView
from lucid_sessions.domain.ports.clock import Clock
from lucid_sessions.domain.ports.id_generator import IdGenerator
from lucid_sessions.domain.ports.session_repository import SessionRepository
from lucid_sessions.domain.principal import Principal
from lucid_sessions.domain.session import Session
from lucid_sessions.domain.values import (
    RDPConfig,
    RecordingConfig,
    SessionMetadata,
    StorageConfig,
)

__all__ = ["CreateSession", "NewSession"]


@dataclass(frozen=True, slots=True)
class NewSession:
    name: str
    rdp_config: RDPConfig
    description: str | None = None
    recording_config: RecordingConfig | None = None
    storage_config: StorageConfig | None = None
    metadata: SessionMetadata | None = None


class CreateSession:
    def __init__(self, repo: SessionRepository, clock: Clock, ids: IdGenerator) -> None:
        self._repo, self._clock, self._ids = repo, clock, ids

    async def __call__(self, principal: Principal, request: NewSession) -> SessionView:
        if request.storage_config is not None and request.storage_config.legal_hold:
            principal.require_admin("place a legal hold")
        metadata = request.metadata or SessionMetadata()
        if not principal.is_admin and metadata.owner != principal.id:
            # A user's sessions always belong to that user.
            metadata = replace(metadata, owner=principal.id)
        now = self._clock.now()
        session = Session.create(
            session_id=self._ids.new_session_id(),
            name=request.name,
            description=request.description,
            rdp_config=request.rdp_config,
            recording_config=request.recording_config,
            storage_config=request.storage_config,
            metadata=metadata,
            now=now,
        )
        await self._repo.add(session)
        return SessionView(session, now)
