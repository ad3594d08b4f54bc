"""The service-wide session log: one entry per completed and per deleted session, in an
append-only RFC 9162 Merkle tree with the same hashes as a session's tree.

Leaf data = the entry's canonical JSON (the manifest's canonicalization); leaf hash =
BLAKE3(0x00 || leaf data). A signed tree head commits to every entry so far: anyone who keeps
one can later check, with a consistency proof, that no entry was removed or rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from lucid_sessions.domain.key_set import key_id_of
from lucid_sessions.domain.manifest import canonical_json, rfc3339
from lucid_sessions.domain.merkle import leaf_hash
from lucid_sessions.domain.session import Session

__all__ = [
    "MAX_LOG_PAGE",
    "DeletionReason",
    "LogEntry",
    "LogEventType",
    "TreeHead",
    "completed_entry",
    "deleted_entry",
]

MAX_LOG_PAGE = 1000


class LogEventType(StrEnum):
    COMPLETED = "completed"
    DELETED = "deleted"


class DeletionReason(StrEnum):
    REQUEST = "request"
    FORCE = "force"
    RETENTION = "retention"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One event of the log. `index` is its position (-1 until the log assigns it)."""

    index: int
    type: LogEventType
    session_id: str
    at: datetime
    principal: str
    merkle_root: str | None
    chunks_count: int
    size_bytes: int | None = None
    manifest_sha256: str | None = None
    reason: DeletionReason | None = None

    def document(self) -> dict[str, Any]:
        """The entry as the contract shows it (the fields of its type only)."""
        found: dict[str, Any] = {
            "index": self.index,
            "type": self.type.value,
            "session_id": self.session_id,
            "at": rfc3339(self.at),
            "principal": self.principal,
            "merkle_root": self.merkle_root,
            "chunks_count": self.chunks_count,
        }
        if self.type is LogEventType.COMPLETED:
            found["size_bytes"] = self.size_bytes
            found["manifest_sha256"] = self.manifest_sha256
        else:
            found["reason"] = None if self.reason is None else self.reason.value
        return found

    def leaf_data(self) -> bytes:
        return canonical_json(self.document())

    def leaf_hash(self) -> bytes:
        return leaf_hash(self.leaf_data())

    def at_index(self, index: int) -> LogEntry:
        return replace(self, index=index)


def _root_hex(session: Session) -> str | None:
    return None if session.merkle_root is None else session.merkle_root.hex()


def completed_entry(session: Session, manifest_sha256: str, principal: str) -> LogEntry:
    """The entry for a session whose manifest was signed (at its `finalized_at`)."""
    assert session.finalized_at is not None
    return LogEntry(
        index=-1,
        type=LogEventType.COMPLETED,
        session_id=session.session_id,
        at=session.finalized_at,
        principal=principal,
        merkle_root=_root_hex(session),
        chunks_count=session.chunks_count,
        size_bytes=session.size_bytes,
        manifest_sha256=manifest_sha256,
    )


def deleted_entry(
    session: Session, reason: DeletionReason, principal: str, at: datetime
) -> LogEntry:
    return LogEntry(
        index=-1,
        type=LogEventType.DELETED,
        session_id=session.session_id,
        at=at,
        principal=principal,
        merkle_root=_root_hex(session),
        chunks_count=session.chunks_count,
        reason=reason,
    )


@dataclass(frozen=True, slots=True)
class TreeHead:
    """A signed tree head; the signature covers `signed_bytes()` (Ed25519), which name the
    signing key by its public key and its `key_id`."""

    tree_size: int
    root: bytes
    timestamp: datetime
    public_key: bytes
    signature: bytes = b""

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_key)

    def unsigned_document(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "timestamp": rfc3339(self.timestamp),
            "public_key": self.public_key.hex(),
            "key_id": self.key_id,
        }

    def signed_bytes(self) -> bytes:
        return canonical_json(self.unsigned_document())

    def document(self) -> dict[str, Any]:
        return {**self.unsigned_document(), "signature": self.signature.hex()}
