"""Verify a session end to end: every blob, the Merkle root, the manifest signature (under
the public key it names, whose id must match the `key_id` it names)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lucid_sessions.app.usecases.read_chunks import ChunkOpener, ReadChunks
from lucid_sessions.domain.errors import IntegrityError
from lucid_sessions.domain.key_set import key_id_of
from lucid_sessions.domain.manifest import build_manifest, canonical_bytes, manifest_root
from lucid_sessions.domain.principal import Principal

__all__ = ["VerificationReport", "VerifySession"]

SignatureCheck = Callable[[bytes, bytes, bytes], bool]  # (public_key, message, signature)


@dataclass(slots=True)
class VerificationReport:
    session_id: str
    status: str
    chunks_count: int
    chunks_verified: int = 0
    bytes_verified: int = 0
    corrupt: list[tuple[int, str]] = field(default_factory=list)
    root_matches: bool = False
    manifest: str = "unsigned"  # unsigned | valid | invalid

    @property
    def ok(self) -> bool:
        return not self.corrupt and self.root_matches and self.manifest != "invalid"

    def lines(self) -> list[str]:
        out = [
            f"session {self.session_id} ({self.status}): {self.chunks_count} chunks",
            f"chunks verified: {self.chunks_verified} ({self.bytes_verified} bytes)",
        ]
        out += [f"CORRUPT chunk {seq}: {reason}" for seq, reason in self.corrupt]
        out.append(f"merkle root: {'ok' if self.root_matches else 'MISMATCH'}")
        out.append(f"manifest signature: {self.manifest}")
        out.append("result: OK" if self.ok else "result: FAILED")
        return out


class VerifySession:
    def __init__(
        self, reader: ReadChunks, opener: ChunkOpener, check_signature: SignatureCheck
    ) -> None:
        self._reader, self._opener, self._check = reader, opener, check_signature

    async def __call__(self, principal: Principal, session_id: str) -> VerificationReport:
        session = await self._reader.session(principal, session_id)
        report = VerificationReport(session_id, session.status.value, session.chunks_count)
        chunks = await self._opener.committed_list(session)
        for record in chunks:
            try:
                await self._opener.plaintext(record)
            except IntegrityError as exc:
                report.corrupt.append((record.sequence_number, exc.detail))
                continue
            report.chunks_verified += 1
            report.bytes_verified += record.size_bytes
        root = manifest_root(chunks)
        report.root_matches = len(chunks) == session.chunks_count and (
            session.chunks_count == 0 or root == session.merkle_root
        )
        public_key, key_id = session.manifest_public_key, session.manifest_key_id
        if session.manifest_signature is not None and public_key is not None:
            body = build_manifest(
                session,
                chunks,
                finalized_at=session.finalized_at,
                public_key=public_key,
                key_id=key_id,
            )
            valid = (key_id is None or key_id == key_id_of(public_key)) and self._check(
                public_key, canonical_bytes(body), session.manifest_signature
            )
            report.manifest = "valid" if valid else "invalid"
        return report
