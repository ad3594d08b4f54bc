"""Update a session's editable fields; drive its recording state machine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from lucid_sessions.app.usecases.common import SessionView, mutate
from lucid_sessions.domain.errors import InvalidValue
from lucid_sessions.domain.ports.clock import Clock
from lucid_sessions.domain.ports.session_repository import SessionRepository
from lucid_sessions.domain.principal import Principal
from lucid_sessions.domain.session import Session
from lucid_sessions.domain.values import RecordingConfig, SessionMetadata, StorageConfig

__all__ = ["ControlRecording", "RecordingAction", "SessionChanges", "UpdateSession"]


@dataclass(frozen=True, slots=True)
class SessionChanges:
    name: str | None = None
    description: str | None = None
    metadata: SessionMetadata | None = None
    storage_config: StorageConfig | None = None
    recording_config: RecordingConfig | None = None


class UpdateSession:
    def __init__(self, repo: SessionRepository, clock: Clock) -> None:
        self._repo, self._clock = repo, clock

    async def __call__(
        self, principal: Principal, session_id: str, changes: SessionChanges
    ) -> SessionView:
        metadata = changes.metadata
        if metadata is not None and not principal.is_admin and metadata.owner != principal.id:
            # A user may not give its session away (it would vanish from its own view).
            raise InvalidValue("metadata.owner", "only an admin may change the owner")

        def apply(session: Session) -> None:
            storage = changes.storage_config
            if storage is not None and storage.legal_hold != session.storage_config.legal_hold:
                principal.require_admin("place or lift a legal hold")
            session.update(
                self._clock.now(),
                name=changes.name,
                description=changes.description,
                metadata=metadata,
                storage_config=changes.storage_config,
                recording_config=changes.recording_config,
            )

        session, _ = await mutate(self._repo, principal, session_id, apply)
        return SessionView(session, self._clock.now())


class RecordingAction(StrEnum):
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"


class ControlRecording:
    """start / pause / resume / stop: one use case, the aggregate holds the rules."""

    def __init__(
        self,
        repo: SessionRepository,
        clock: Clock,
        on_stopped: Callable[[str], None] | None = None,
    ) -> None:
        self._repo, self._clock, self._on_stopped = repo, clock, on_stopped

    async def __call__(
        self, principal: Principal, session_id: str, action: RecordingAction
    ) -> SessionView:
        def apply(session: Session) -> None:
            now = self._clock.now()
            match action:
                case RecordingAction.START:
                    session.start(now)
                case RecordingAction.PAUSE:
                    session.pause(now)
                case RecordingAction.RESUME:
                    session.resume(now)
                case RecordingAction.STOP:
                    session.stop(now)

        session, _ = await mutate(self._repo, principal, session_id, apply)
        if action is RecordingAction.STOP and self._on_stopped is not None:
            self._on_stopped(session.session_id)  # finalization runs in the background
        return SessionView(session, self._clock.now())
