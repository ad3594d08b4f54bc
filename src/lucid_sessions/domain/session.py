"""The Session aggregate: the recording state machine and its accounting."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from lucid_sessions.domain.chunk import ChunkRecord
from lucid_sessions.domain.errors import (
    ChunkConflict,
    InvalidTransition,
    InvalidValue,
    PolicyViolation,
    StorageFull,
)
from lucid_sessions.domain.instants import instant, optional_instant
from lucid_sessions.domain.merkle import CompactRange
from lucid_sessions.domain.values import (
    Limits,
    RDPConfig,
    RecordingConfig,
    SessionMetadata,
    StorageConfig,
)

__all__ = ["VISIBLE_STATUSES", "Deletion", "Session", "SessionStatus", "validate_id"]

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def validate_id(value: str, field_name: str = "session_id") -> str:
    """Ids in paths are checked before any lookup."""
    if not _ID.fullmatch(value):
        raise InvalidValue(field_name, "must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
    return value


class SessionStatus(StrEnum):
    CREATED = "created"
    RECORDING = "recording"
    PAUSED = "paused"
    STOPPED = "stopped"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    DELETING = "deleting"
    """Claimed for deletion: hidden from every read while its data is being removed."""


VISIBLE_STATUSES = tuple(s for s in SessionStatus if s is not SessionStatus.DELETING)
"""The statuses of the contract (a session being deleted is never shown)."""


@dataclass(frozen=True, slots=True)
class Deletion:
    """Why, by whom and when a session was claimed for deletion; `claimed_at` moves when a
    process takes over a deletion that another one left unfinished."""

    reason: str
    principal: str
    at: datetime
    claimed_at: datetime


_ACTIVE = frozenset({SessionStatus.RECORDING, SessionStatus.PAUSED})
_OPTIONAL_INSTANTS = (
    "updated_at",
    "started_at",
    "stopped_at",
    "completed_at",
    "paused_at",
    "finalized_at",
)


@dataclass(slots=True)
class Session:
    """A remote-desktop recording session.

    `version` is the version this object was read at; the repository's conditional save
    advances it, so of two writers that read the same version exactly one succeeds.
    """

    session_id: str
    name: str
    rdp_config: RDPConfig
    created_at: datetime
    description: str | None = None
    recording_config: RecordingConfig = field(default_factory=RecordingConfig)
    storage_config: StorageConfig = field(default_factory=StorageConfig)
    metadata: SessionMetadata = field(default_factory=SessionMetadata)
    status: SessionStatus = SessionStatus.CREATED
    updated_at: datetime | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    completed_at: datetime | None = None
    paused_at: datetime | None = None
    paused_seconds: float = 0.0
    chunks_count: int = 0
    size_bytes: int = 0
    stored_bytes: int = 0
    frame_count: int = 0
    recorded_seconds: float = 0.0
    merkle_frontier: tuple[bytes, ...] = ()
    merkle_root: bytes | None = None
    pipeline_paused: bool = False
    error: str | None = None
    finalized_at: datetime | None = None
    manifest_signature: bytes | None = None
    manifest_public_key: bytes | None = None
    manifest_key_id: str | None = None
    """The id of the key that signed the manifest (None for manifests signed before keys
    had ids: their signed body names no key)."""
    deletion: Deletion | None = None
    version: int = 0

    def __post_init__(self) -> None:
        validate_id(self.session_id)
        _check_name(self.name)
        _check_description(self.description)
        self.created_at = instant(self.created_at)
        for name in _OPTIONAL_INSTANTS:
            setattr(self, name, optional_instant(getattr(self, name)))
        if self.updated_at is None:
            self.updated_at = self.created_at

    # -- factory -------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        *,
        session_id: str,
        name: str,
        rdp_config: RDPConfig,
        now: datetime,
        description: str | None = None,
        recording_config: RecordingConfig | None = None,
        storage_config: StorageConfig | None = None,
        metadata: SessionMetadata | None = None,
    ) -> Session:
        return cls(
            session_id=session_id,
            name=name,
            description=description,
            rdp_config=rdp_config,
            recording_config=recording_config or RecordingConfig(),
            storage_config=storage_config or StorageConfig(),
            metadata=metadata or SessionMetadata(),
            created_at=now,
            updated_at=now,
        )

    # -- recording state machine ----------------------------------------------------------
    def start(self, now: datetime) -> None:
        now = instant(now)
        self._require("start", SessionStatus.CREATED)
        self.status = SessionStatus.RECORDING
        self.started_at = now
        self.updated_at = now

    def pause(self, now: datetime) -> None:
        now = instant(now)
        self._require("pause", SessionStatus.RECORDING)
        self.status = SessionStatus.PAUSED
        self.paused_at = now
        self.updated_at = now

    def resume(self, now: datetime) -> None:
        now = instant(now)
        self._require("resume", SessionStatus.PAUSED)
        self._close_pause(now)
        self.status = SessionStatus.RECORDING
        self.updated_at = now

    def stop(self, now: datetime) -> None:
        now = instant(now)
        self._require("stop", SessionStatus.RECORDING, SessionStatus.PAUSED)
        self._close_pause(now)
        self.status = SessionStatus.STOPPED
        self.stopped_at = now
        self.updated_at = now

    def begin_processing(self, now: datetime) -> None:
        now = instant(now)
        self._require("process", SessionStatus.STOPPED)
        self.status = SessionStatus.PROCESSING
        self.updated_at = now

    def complete(self, now: datetime) -> None:
        now = instant(now)
        self._require("complete", SessionStatus.PROCESSING)
        self.status = SessionStatus.COMPLETED
        self.completed_at = now
        self.updated_at = now

    def fail(self, now: datetime, error: str) -> None:
        now = instant(now)
        self._require("fail", SessionStatus.STOPPED, SessionStatus.PROCESSING)
        self.status = SessionStatus.FAILED
        self.error = error
        self.completed_at = now
        self.updated_at = now

    # -- edits ---------------------------------------------------------------------------
    def update(
        self,
        now: datetime,
        *,
        name: str | None = None,
        description: str | None = None,
        metadata: SessionMetadata | None = None,
        storage_config: StorageConfig | None = None,
        recording_config: RecordingConfig | None = None,
    ) -> None:
        """Apply a partial update; every check runs before anything changes."""
        now = instant(now)
        if recording_config is not None and self.status is not SessionStatus.CREATED:
            raise InvalidTransition("change the recording_config of", self.status.value)
        if name is not None:
            _check_name(name)
        _check_description(description)
        if name is not None:
            self.name = name
        if description is not None:
            self.description = description
        if metadata is not None:
            self.metadata = metadata
        if storage_config is not None:
            self.storage_config = storage_config
        if recording_config is not None:
            self.recording_config = recording_config
        self.updated_at = now

    def ensure_deletable(self, *, force: bool) -> None:
        if self.status is SessionStatus.DELETING:
            raise InvalidTransition("delete", self.status.value)
        if self.storage_config.legal_hold:
            raise PolicyViolation(
                f"session {self.session_id!r} is under legal hold and cannot be deleted"
            )
        busy = _ACTIVE | {SessionStatus.PROCESSING}
        if self.status in busy and not force:
            raise InvalidTransition("delete (without force=true)", self.status.value)

    # -- recording data ------------------------------------------------------------------
    def check_next_chunk(self, sequence_number: int, size: int = 0) -> None:
        """Guards of an upload of a new chunk of `size` bytes (before any work is done for
        it): recording, the next number, and the session's quota."""
        self._require("upload a chunk to", SessionStatus.RECORDING)
        if sequence_number != self.chunks_count:
            raise ChunkConflict(
                f"expected chunk {self.chunks_count} of session {self.session_id!r}, "
                f"got {sequence_number}"
            )
        quota = self.storage_config.max_bytes
        if self.size_bytes + size > quota:
            raise StorageFull(
                f"session {self.session_id!r} would pass its quota of "
                f"{self.storage_config.max_size_gb:g} GB ({quota} bytes) with this chunk; "
                "nothing was stored"
            )

    def append_chunk(self, chunk: ChunkRecord, now: datetime) -> None:
        """Commit a stored chunk: counters, and the Merkle root in O(log n)."""
        now = instant(now)
        self.check_next_chunk(chunk.sequence_number)
        frontier = CompactRange(self.chunks_count, self.merkle_frontier)
        frontier.append_leaf_hash(chunk.leaf_hash)
        self.merkle_frontier = frontier.hashes
        self.merkle_root = frontier.root()
        self.chunks_count += 1
        self.size_bytes += chunk.size_bytes
        self.stored_bytes += chunk.stored_size_bytes
        self.frame_count += chunk.frame_count or 0
        self.recorded_seconds += chunk.duration_seconds or 0.0
        self.updated_at = now

    def sign_manifest(
        self, now: datetime, signature: bytes, public_key: bytes, key_id: str
    ) -> None:
        """Record the manifest's signature (made at `now` by the key `key_id`) while
        processing; the session completes once the session log holds its entry."""
        now = instant(now)
        self._require("sign the manifest of", SessionStatus.PROCESSING)
        self.manifest_signature = signature
        self.manifest_public_key = public_key
        self.manifest_key_id = key_id
        self.finalized_at = now
        self.updated_at = now

    def begin_deletion(self, reason: str, principal: str, now: datetime, *, force: bool) -> None:
        """Claim the session for deletion: from now on it is gone for every reader."""
        now = instant(now)
        self.ensure_deletable(force=force)
        self.status = SessionStatus.DELETING
        self.deletion = Deletion(reason, principal, now, now)
        self.updated_at = now

    def reclaim_deletion(self, now: datetime) -> None:
        """Take over a deletion another process left unfinished."""
        now = instant(now)
        self._require("take over the deletion of", SessionStatus.DELETING)
        assert self.deletion is not None
        self.deletion = replace(self.deletion, claimed_at=now)
        self.updated_at = now

    def set_pipeline_paused(self, paused: bool, now: datetime) -> None:
        now = instant(now)
        self.pipeline_paused = paused
        self.updated_at = now

    # -- derived figures -------------------------------------------------------------------
    def paused_seconds_at(self, now: datetime) -> float:
        extra = 0.0
        if self.paused_at is not None:
            extra = max(0.0, (now - self.paused_at).total_seconds())
        return self.paused_seconds + extra

    def duration_seconds_at(self, now: datetime) -> float:
        """Recorded wall time, pauses excluded."""
        if self.started_at is None:
            return 0.0
        end = self.stopped_at or now
        total = (end - self.started_at).total_seconds() - self.paused_seconds_at(end)
        return max(0.0, total)

    @property
    def expires_at(self) -> datetime | None:
        """When retention deletes the session: `retention_days` after it stopped; never
        while it is under legal hold, has not stopped, or is being deleted."""
        if (
            self.stopped_at is None
            or self.storage_config.legal_hold
            or self.status is SessionStatus.DELETING
        ):
            return None
        return self.stopped_at + timedelta(days=self.storage_config.retention_days)

    @property
    def can_grow(self) -> bool:
        """Whether chunks may still be added (created, recording or paused): its recording,
        and what is derived from it, may still change."""
        return self.status in (SessionStatus.CREATED, SessionStatus.RECORDING, SessionStatus.PAUSED)

    @property
    def compression_ratio(self) -> float | None:
        if self.stored_bytes == 0:
            return None
        return self.size_bytes / self.stored_bytes

    def copy(self) -> Session:
        return replace(self)

    # -- internals ---------------------------------------------------------------------------
    def _require(self, action: str, *allowed: SessionStatus) -> None:
        if self.status not in allowed:
            raise InvalidTransition(action, self.status.value)

    def _close_pause(self, now: datetime) -> None:
        if self.paused_at is not None:
            self.paused_seconds += max(0.0, (now - self.paused_at).total_seconds())
            self.paused_at = None


def _check_name(name: str) -> None:
    if not name.strip():
        raise InvalidValue("name", "must not be empty")
    if len(name) > Limits.NAME_MAX:
        raise InvalidValue("name", f"must be at most {Limits.NAME_MAX} characters")


def _check_description(description: str | None) -> None:
    if description is not None and len(description) > Limits.DESCRIPTION_MAX:
        raise InvalidValue("description", f"must be at most {Limits.DESCRIPTION_MAX} characters")
