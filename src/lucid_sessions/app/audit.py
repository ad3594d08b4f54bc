"""Offline audit: a manifest, the service's public key and (optionally) the recording.

Needs nothing from the service: the auditor recomputes every leaf and the RFC 9162 root
from the manifest (and from the recording bytes, when given) and checks the Ed25519
signature over the manifest's canonical bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lucid_sessions.domain.manifest import canonical_bytes
from lucid_sessions.domain.merkle import blake3_256, empty_root, leaf_hash, root_from_leaf_hashes

__all__ = ["AuditReport", "audit_manifest"]

SignatureCheck = Callable[[bytes, bytes, bytes], bool]


@dataclass(slots=True)
class AuditReport:
    problems: list[str] = field(default_factory=list)
    chunks_checked: int = 0
    signature_checked: bool = False

    @property
    def ok(self) -> bool:
        """No problem found (which, without a trusted key, does not make it authentic)."""
        return not self.problems

    @property
    def authentic(self) -> bool:
        """No problem, and the signature verified under the key the caller trusts."""
        return self.ok and self.signature_checked


def _root(digests: list[bytes]) -> bytes:
    return root_from_leaf_hashes([leaf_hash(d) for d in digests]) if digests else empty_root()


def audit_manifest(
    manifest: dict[str, Any],
    public_key: bytes | None,
    check_signature: SignatureCheck,
    recording: Iterable[bytes] | None = None,
) -> AuditReport:
    """Audit `manifest` against `public_key`, the key the caller trusts (never the key the
    manifest names: a forger names their own). With `public_key=None` every check but the
    signature runs, and the report is never `authentic`.

    `recording`: the recording's bytes in pieces of any size (e.g. file reads)."""
    report = AuditReport()
    try:
        chunks = manifest["chunks"]
        digests = [bytes.fromhex(c["blake3"]) for c in chunks]
        sizes = [int(c["size_bytes"]) for c in chunks]
        if [c["sequence_number"] for c in chunks] != list(range(len(chunks))):
            report.problems.append("chunk sequence numbers are not 0..n-1")
        if manifest["chunks_count"] != len(chunks):
            report.problems.append("chunks_count differs from the chunk list")
        if manifest["size_bytes"] != sum(sizes):
            report.problems.append("size_bytes differs from the sum of chunk sizes")
        if _root(digests).hex() != manifest["merkle_root"]:
            report.problems.append("merkle_root does not match the chunk digests")
        signature = manifest.get("signature")
        if not signature:
            report.problems.append("the manifest is not signed (session not completed)")
        elif public_key is None:
            pass  # nothing trusted to check it against: the report is not `authentic`
        elif manifest.get("public_key") != public_key.hex():
            report.problems.append("the manifest names another public key than the trusted one")
        elif not check_signature(public_key, canonical_bytes(manifest), bytes.fromhex(signature)):
            report.problems.append("the signature does not verify")
        else:
            report.signature_checked = True
    except (KeyError, TypeError, ValueError) as exc:
        report.problems.append(f"malformed manifest: {exc!r}")
        return report
    if recording is not None:
        _audit_recording(report, digests, sizes, recording)
    return report


def _audit_recording(
    report: AuditReport, digests: list[bytes], sizes: list[int], recording: Iterable[bytes]
) -> None:
    pending = bytearray()
    index = 0
    for piece in recording:
        pending += piece
        while index < len(sizes) and len(pending) >= sizes[index]:
            data = bytes(pending[: sizes[index]])
            del pending[: sizes[index]]
            if blake3_256(data) != digests[index]:
                report.problems.append(f"chunk {index}: bytes do not match its BLAKE3")
            report.chunks_checked += 1
            index += 1
    if index != len(sizes) or pending:
        report.problems.append("the recording's length differs from the manifest's")
