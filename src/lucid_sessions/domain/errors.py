"""Domain errors. Adapters translate driver errors into these; fakes raise the same types."""

from __future__ import annotations

__all__ = [
    "AnchorUnavailable",
    "ChunkConflict",
    "ChunkNotFound",
    "ConcurrencyError",
    "CorruptChunk",
    "DomainError",
    "Forbidden",
    "IntegrityError",
    "InvalidLink",
    "InvalidTransition",
    "InvalidValue",
    "NotFound",
    "PipelinePaused",
    "PolicyViolation",
    "RangeNotSatisfiable",
    "SessionNotFound",
    "SigningKeyRetired",
    "StorageFull",
    "StorageUnavailable",
    "Unauthenticated",
]


class DomainError(Exception):
    """Base of every error the domain and its ports declare."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidValue(DomainError):
    """A value breaks a rule of the domain (range, enum, format). Names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(DomainError):
    """Something asked for does not exist (or is not visible to the caller)."""


class SessionNotFound(NotFound):
    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id!r} not found")
        self.session_id = session_id


class ChunkNotFound(NotFound):
    def __init__(self, session_id: str, sequence_number: int) -> None:
        super().__init__(f"chunk {sequence_number} of session {session_id!r} not found")
        self.session_id = session_id
        self.sequence_number = sequence_number


class InvalidTransition(DomainError):
    """An action that the current status does not allow; nothing was changed."""

    def __init__(self, action: str, status: str) -> None:
        super().__init__(f"cannot {action} a session whose status is {status!r}")
        self.action = action
        self.status = status


class PolicyViolation(DomainError):
    """An action that a rule forbids in the current state (legal hold, chunk gap...)."""


class ChunkConflict(PolicyViolation):
    """A chunk upload that conflicts with what is stored (gap, different bytes)."""


class Unauthenticated(DomainError):
    """No credentials, or credentials that name nobody (unknown, expired, badly signed)."""


class InvalidLink(Unauthenticated):
    """A playback link that grants nothing here: malformed, badly signed, signed by a key this
    service no longer has, expired, or for another session."""


class Forbidden(DomainError):
    """The principal is known but its role does not allow the action."""


class ConcurrencyError(DomainError):
    """Another writer changed the aggregate since it was read (optimistic concurrency)."""


class PipelinePaused(DomainError):
    """Work is held because the session's pipeline is paused; retry later."""

    def __init__(self, session_id: str, retry_after_seconds: int = 5) -> None:
        super().__init__(f"the pipeline of session {session_id!r} is paused; retry later")
        self.retry_after_seconds = retry_after_seconds


class StorageUnavailable(DomainError):
    """A storage dependency is down or unreachable; retry later."""

    def __init__(self, detail: str, retry_after_seconds: int = 5) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class SigningKeyRetired(StorageUnavailable):
    """The signing key asked for was retired meanwhile (a rotation): sign again with the
    current key (a caller that cannot answers 503, try again)."""

    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"the signing key {key_id!r} is retired; sign with the current key",
            retry_after_seconds=1,
        )
        self.key_id = key_id


class StorageFull(DomainError):
    """Storing this would pass a quota or the store's free-space floor; nothing was stored."""


class RangeNotSatisfiable(DomainError):
    """The range of media time asked for selects nothing of the recording (HTTP 416)."""


class AnchorUnavailable(DomainError):
    """A signed tree head could not be published; it is tried again later."""


class IntegrityError(DomainError):
    """Stored data failed authentication or hash checks."""


class CorruptChunk(IntegrityError):
    def __init__(self, session_id: str, sequence_number: int, reason: str) -> None:
        super().__init__(f"chunk {sequence_number} of session {session_id!r} is corrupt: {reason}")
        self.session_id = session_id
        self.sequence_number = sequence_number
        self.reason = reason
