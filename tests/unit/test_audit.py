"""The offline audit: only the manifest, the public key and the recording bytes."""

from __future__ import annotations

from typing import Any

from lucid_sessions.adapters.crypto import Ed25519Signer
from lucid_sessions.adapters.crypto.signer import verify_signature
from lucid_sessions.app.audit import audit_manifest
from lucid_sessions.domain.chunk import ChunkRecord
from lucid_sessions.domain.manifest import build_manifest, canonical_bytes
from lucid_sessions.domain.merkle import blake3_256, leaf_hash
from lucid_sessions.domain.session import SessionStatus
from tests.factories import at, make_session

DATA = [b"alpha" * 100, b"beta" * 300, b"", b"gamma" * 7]


def signed(signer: Ed25519Signer) -> dict[str, Any]:
    records = [
        ChunkRecord(
            "sess-a",
            n,
            blake3_256(d),
            leaf_hash(blake3_256(d)),
            len(d),
            len(d),
            at(n),
            "none",
            1.0,
            False,
            None,
        )
        for n, d in enumerate(DATA)
    ]
    session = make_session("sess-a")
    body = build_manifest(
        session,
        records,
        status=SessionStatus.COMPLETED,
        finalized_at=at(9),
        public_key=signer.public_key(),
    )
    body["signature"] = signer.sign(canonical_bytes(body)).hex()
    return body


def test_a_good_manifest_and_recording_pass() -> None:
    signer = Ed25519Signer.generate()
    pieces = [b"".join(DATA)[i : i + 333] for i in range(0, len(b"".join(DATA)), 333)]
    report = audit_manifest(signed(signer), signer.public_key(), verify_signature, pieces)
    assert report.ok, report.problems
    assert report.chunks_checked == len(DATA)


def test_every_alteration_is_caught() -> None:
    signer = Ed25519Signer.generate()
    good = signed(signer)
    key = signer.public_key()
    assert not audit_manifest(dict(good, size_bytes=1), key, verify_signature).ok
    assert not audit_manifest(dict(good, merkle_root="00" * 32), key, verify_signature).ok
    swapped = dict(good, chunks=[good["chunks"][1], good["chunks"][0], *good["chunks"][2:]])
    assert not audit_manifest(swapped, key, verify_signature).ok
    other = Ed25519Signer.generate().public_key()
    assert not audit_manifest(good, other, verify_signature).ok
    wrong_bytes = [b"".join(DATA).replace(b"beta", b"BETA", 1)]
    report = audit_manifest(good, key, verify_signature, wrong_bytes)
    assert report.problems == ["chunk 1: bytes do not match its BLAKE3"]
    short = audit_manifest(good, key, verify_signature, [b"".join(DATA)[:-1]])
    assert "length" in short.problems[-1]
    assert not audit_manifest({"chunks": "nope"}, key, verify_signature).ok
