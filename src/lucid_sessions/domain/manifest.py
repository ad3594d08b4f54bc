"""The session manifest and its canonical bytes (what the service signs)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from lucid_sessions.domain.chunk import ChunkRecord
from lucid_sessions.domain.merkle import empty_root, leaf_hash, root_from_leaf_hashes
from lucid_sessions.domain.session import Session, SessionStatus

__all__ = [
    "build_manifest",
    "canonical_bytes",
    "canonical_json",
    "manifest_root",
    "manifest_sha256",
    "rfc3339",
]

SIGNATURE_FIELDS = ("signature",)


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def manifest_root(chunks: Sequence[ChunkRecord]) -> bytes:
    """The Merkle root recomputed from the chunks' BLAKE3 digests (the leaf data)."""
    if not chunks:
        return empty_root()
    return root_from_leaf_hashes([leaf_hash(c.blake3) for c in chunks])


def build_manifest(
    session: Session,
    chunks: Sequence[ChunkRecord],
    *,
    status: SessionStatus | None = None,
    finalized_at: datetime | None = None,
    public_key: bytes | None = None,
    signature: bytes | None = None,
    key_id: str | None = None,
) -> dict[str, Any]:
    """The manifest document. The signature covers `canonical_bytes` of this document
    without its `signature` field (`public_key` and `key_id` are part of what is signed).

    `key_id` names the signing key; a manifest signed before keys had ids has none, and its
    document has no `key_id` field at all, so its body stays the one that was signed."""
    document: dict[str, Any] = {
        "session_id": session.session_id,
        "status": (status or session.status).value,
        "chunks_count": len(chunks),
        "size_bytes": sum(c.size_bytes for c in chunks),
        "merkle_root": manifest_root(chunks).hex(),
        "hash_algorithm": "blake3",
        "tree": "rfc9162",
        "created_at": rfc3339(session.created_at),
        "finalized_at": rfc3339(finalized_at),
        "chunks": [
            {
                "sequence_number": c.sequence_number,
                "blake3": c.blake3.hex(),
                "size_bytes": c.size_bytes,
            }
            for c in chunks
        ],
        "public_key": None if public_key is None else public_key.hex(),
        "signature": None if signature is None else signature.hex(),
    }
    if key_id is not None:
        document["key_id"] = key_id
    return document


def canonical_json(document: dict[str, Any]) -> bytes:
    """UTF-8 JSON, keys sorted, no insignificant whitespace (what is signed and hashed)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical_bytes(manifest: dict[str, Any]) -> bytes:
    """The canonical JSON of the manifest without its signature field (what is signed)."""
    return canonical_json({k: v for k, v in manifest.items() if k not in SIGNATURE_FIELDS})


def manifest_sha256(manifest: dict[str, Any]) -> str:
    """Hex SHA-256 of the signed manifest's canonical JSON, signature included (what the
    session log's `completed` entry records)."""
    return hashlib.sha256(canonical_json(manifest)).hexdigest()
