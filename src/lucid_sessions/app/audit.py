"""Offline audit: a manifest, the key(s) the auditor trusts and (optionally) the recording.

Needs nothing from the service: the auditor recomputes every leaf and the RFC 9162 root
from the manifest (and from the recording bytes, when given) and checks the Ed25519
signature over the manifest's canonical bytes, under either one public key or the service's
published key set (`GET /api/v1/sessions/keys`). With a key set, the key is the one the
manifest names by `key_id` (by its public key for manifests signed before key ids), and a
retired key only verifies what it signed before its retirement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lucid_sessions.domain.errors import InvalidValue
from lucid_sessions.domain.instants import parse_timestamp
from lucid_sessions.domain.key_set import key_id_of, key_verifies_at, trusted_key
from lucid_sessions.domain.manifest import canonical_bytes, rfc3339
from lucid_sessions.domain.merkle import blake3_256, empty_root, leaf_hash, root_from_leaf_hashes
from lucid_sessions.domain.ports.signer import SigningKey

__all__ = ["AuditReport", "audit_manifest", "signing_key_for"]

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


class _Refused(Exception):
    """The signed document's key is not one the auditor trusts (the message says why)."""


def signing_key_for(
    document: dict[str, Any],
    what: str,
    signed_at_field: str,
    public_key: bytes | None,
    key_set: Sequence[SigningKey] | None,
) -> tuple[bytes | None, str | None]:
    """The trusted key to check `document`'s signature with, or the problem that stops it.

    The document names its key by `public_key` and (when signed since keys have ids)
    `key_id`, which must be the BLAKE3 prefix of that public key. Against a key set, the key
    is picked by `key_id` (else by public key) and must have been unretired at the signed
    time, the document's `signed_at_field`. Against one trusted `public_key`, the document
    must name exactly that key. (None, None) when nothing trusted was given. Raises
    ValueError or TypeError for a malformed document.
    """
    try:
        return _signing_key_for(document, what, signed_at_field, public_key, key_set), None
    except _Refused as refused:
        return None, str(refused)


def _signing_key_for(
    document: dict[str, Any],
    what: str,
    signed_at_field: str,
    public_key: bytes | None,
    key_set: Sequence[SigningKey] | None,
) -> bytes | None:
    named = bytes.fromhex(document["public_key"])
    key_id = document.get("key_id")
    if key_id is not None and (not isinstance(key_id, str) or key_id != key_id_of(named)):
        raise _Refused(f"the {what}'s key_id is not the BLAKE3 prefix of its public_key")
    if key_set is not None:
        key = trusted_key(list(key_set), key_id, named)
        if key is None:
            name = f"key_id {key_id}" if key_id is not None else f"public key {named.hex()}"
            raise _Refused(f"the {what}'s signing key ({name}) is not in the trusted key set")
        if key.public_key != named:
            raise _Refused(f"the {what} names another public key than the key set's {key_id}")
        raw = document.get(signed_at_field)
        try:
            signed_at = None if raw is None else parse_timestamp(raw, signed_at_field)
        except InvalidValue as exc:
            raise ValueError(exc.detail) from None
        if not key_verifies_at(key, signed_at):
            raise _Refused(
                f"the {what} is dated {raw}, after its key {key.key_id} was retired "
                f"({rfc3339(key.retired_at)}): a retired key never signs again"
            )
        return key.public_key
    if public_key is not None and named != public_key:
        raise _Refused(f"the {what} names another public key than the trusted one")
    return public_key


def _root(digests: list[bytes]) -> bytes:
    return root_from_leaf_hashes([leaf_hash(d) for d in digests]) if digests else empty_root()


def audit_manifest(
    manifest: dict[str, Any],
    public_key: bytes | None,
    check_signature: SignatureCheck,
    recording: Iterable[bytes] | None = None,
    key_set: Sequence[SigningKey] | None = None,
) -> AuditReport:
    """Audit `manifest` against `public_key`, the key the caller trusts, or against the
    service's `key_set` the caller trusts (never the key the manifest names: a forger names
    their own). With neither, every check but the signature runs, and the report is never
    `authentic`.

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
        else:
            key, refused = signing_key_for(
                manifest, "manifest", "finalized_at", public_key, key_set
            )
            if refused is not None:
                report.problems.append(refused)
            elif key is None:
                pass  # nothing trusted to check it against: the report is not `authentic`
            elif not check_signature(key, canonical_bytes(manifest), bytes.fromhex(signature)):
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
