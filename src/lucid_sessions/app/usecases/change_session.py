"""Update a session's editable fields; drive its recording state machine."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from lucid_sessions.app.usecases.common import SessionView, mutate
from lucid_sessions.domain.ports.clock import Clock
from lucid_sessions.domain.ports.session_repository import SessionRepository
from lucid_sessions.domain.principal import Principal
from lucid_sessions.domain.session import Session
from lucid_sessions.domain.values import RecordingConfig, merged

__all__ = ["ControlRecording", "RecordingAction", "SessionChanges", "UpdateSession"]


@dataclass(frozen=True, slots=True)
class SessionChanges:
    """A partial update. `metadata` and `storage_config` are merged into what is stored: a
    key replaces that field, `None` removes it (puts its default back), keys not given stay.
    `recording_config` replaces the whole configuration (only while the session is created)."""

    name: str | None = None
    description: str | None = None
    metadata: Mapping[str, object] | None = None
    storage_config: Mapping[str, object] | None = None
    recording_config: RecordingConfig | None = None


class UpdateSession:
    def __init__(self, repo: SessionRepository, clock: Clock) -> None:
        self._repo, self._clock = repo, clock

    async def __call__(
        self, principal: Principal, session_id: str, changes: SessionChanges
    ) -> SessionView:
        owner_change = (changes.metadata or {}).get("owner", principal.id)

        def apply(session: Session) -> None:
            if owner_change != principal.id:
                # A user may not give its session away (it would vanish from its own view);
                # checked once the session is known to be the caller's, so another owner's
                # session still answers 404.
                principal.require_admin("change a session's owner")
            metadata = storage = None
            if changes.metadata is not None:
                metadata = merged(session.metadata, changes.metadata, "metadata")
            if changes.storage_config is not None:
                storage = merged(session.storage_config, changes.storage_config, "storage_config")
                if storage.legal_hold != session.storage_config.legal_hold:
                    principal.require_admin("place or lift a legal hold")
            session.update(
                self._clock.now(),
                name=changes.name,
                description=changes.description,
                metadata=metadata,
                storage_config=storage,
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
