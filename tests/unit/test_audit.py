"""The offline audit: only the manifest, the public key and the recording bytes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lucid_sessions.adapters.cli import commands
from lucid_sessions.adapters.crypto import verify_signature
from lucid_sessions.app.audit import audit_manifest
from lucid_sessions.domain.chunk import ChunkRecord
from lucid_sessions.domain.manifest import build_manifest, canonical_bytes
from lucid_sessions.domain.merkle import blake3_256, leaf_hash, root_from_leaf_hashes
from lucid_sessions.domain.session import SessionStatus
from tests.factories import at, make_session

DATA = [b"alpha" * 100, b"beta" * 300, b"", b"gamma" * 7]


class KeyPair:
    """An Ed25519 key pair signing documents as the service did before keys had ids (the
    documents name no `key_id`): what an auditor holding older manifests and heads has."""

    def __init__(self) -> None:
        self._private = Ed25519PrivateKey.generate()

    @classmethod
    def generate(cls) -> KeyPair:
        return cls()

    def public_key(self) -> bytes:
        return self._private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)


def signed(signer: KeyPair) -> dict[str, Any]:
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
    signer = KeyPair.generate()
    pieces = [b"".join(DATA)[i : i + 333] for i in range(0, len(b"".join(DATA)), 333)]
    report = audit_manifest(signed(signer), signer.public_key(), verify_signature, pieces)
    assert report.ok, report.problems
    assert report.chunks_checked == len(DATA)


def test_every_alteration_is_caught() -> None:
    signer = KeyPair.generate()
    good = signed(signer)
    key = signer.public_key()
    assert not audit_manifest(dict(good, size_bytes=1), key, verify_signature).ok
    assert not audit_manifest(dict(good, merkle_root="00" * 32), key, verify_signature).ok
    swapped = dict(good, chunks=[good["chunks"][1], good["chunks"][0], *good["chunks"][2:]])
    assert not audit_manifest(swapped, key, verify_signature).ok
    other = KeyPair.generate().public_key()
    assert not audit_manifest(good, other, verify_signature).ok
    wrong_bytes = [b"".join(DATA).replace(b"beta", b"BETA", 1)]
    report = audit_manifest(good, key, verify_signature, wrong_bytes)
    assert report.problems == ["chunk 1: bytes do not match its BLAKE3"]
    short = audit_manifest(good, key, verify_signature, [b"".join(DATA)[:-1]])
    assert "length" in short.problems[-1]
    assert not audit_manifest({"chunks": "nope"}, key, verify_signature).ok


def _forged(real: dict[str, Any]) -> tuple[dict[str, Any], KeyPair]:
    """The real manifest with its last chunk dropped, the root recomputed, and signed with a
    forger's own key, which the forger embeds."""
    forger = KeyPair.generate()
    chunks = real["chunks"][:-1]
    forged = dict(
        real,
        chunks=chunks,
        chunks_count=len(chunks),
        size_bytes=sum(c["size_bytes"] for c in chunks),
        merkle_root=root_from_leaf_hashes(
            [leaf_hash(bytes.fromhex(c["blake3"])) for c in chunks]
        ).hex(),
        public_key=forger.public_key().hex(),
    )
    forged["signature"] = forger.sign(canonical_bytes(forged)).hex()
    return forged, forger


def _cli(tmp_path: Path, manifest: dict[str, Any], *args: str) -> tuple[int, str]:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    out, err = io.StringIO(), io.StringIO()
    key = dict(zip(args[::2], args[1::2], strict=True))
    code = commands.audit(
        str(path),
        key.get("--public-key"),
        None,
        verify_signature,
        out,
        err,
        public_key_file=key.get("--public-key-file"),
    )
    return code, out.getvalue() + err.getvalue()


def test_a_forged_manifest_with_its_own_key_never_passes(tmp_path: Path) -> None:
    signer = KeyPair.generate()
    forged, _ = _forged(signed(signer))
    code, text = _cli(tmp_path, forged)
    assert code == 2
    assert "result: OK" not in text
    assert "NOT VERIFIED" in text
    assert "trust" in text
    code, text = _cli(tmp_path, forged, "--public-key", signer.public_key().hex())
    assert code == 1
    assert "another public key" in text


def test_the_trusted_key_may_come_from_a_file(tmp_path: Path) -> None:
    signer = KeyPair.generate()
    pem = tmp_path / "service.pub.pem"
    pem.write_bytes(
        Ed25519PublicKey.from_public_bytes(signer.public_key()).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    hex_file = tmp_path / "service.pub.hex"
    hex_file.write_text(signer.public_key().hex() + "\n")
    for key_file in (pem, hex_file):
        code, text = _cli(tmp_path, signed(signer), "--public-key-file", str(key_file))
        assert code == 0, text
        assert "result: OK" in text
    forged, _ = _forged(signed(signer))
    assert _cli(tmp_path, forged, "--public-key-file", str(pem))[0] == 1
    assert _cli(tmp_path, signed(signer), "--public-key-file", str(tmp_path / "none"))[0] == 2


# -- the session log, offline -------------------------------------------------------------------


def _log_documents(signer: KeyPair, sizes: tuple[int, int]) -> dict[str, Any]:
    """Two signed heads of a log of `completed` entries, a proof and a consistency proof."""
    from lucid_sessions.domain.manifest import canonical_json
    from lucid_sessions.domain.merkle import MerkleTree

    entries = [
        {"index": i, "type": "deleted", "session_id": f"sess-{i}", "at": "2026-01-01T00:00:00Z",
         "principal": "system", "reason": "retention", "merkle_root": None, "chunks_count": 0}
        for i in range(sizes[1])
    ]  # fmt: skip
    tree = MerkleTree()
    for entry in entries:
        tree.append_leaf_hash(leaf_hash(canonical_json(entry)))

    def head(size: int) -> dict[str, Any]:
        unsigned = {
            "tree_size": size,
            "root": tree.root(size).hex(),
            "timestamp": "2026-01-01T00:00:00Z",
            "public_key": signer.public_key().hex(),
        }
        return {**unsigned, "signature": signer.sign(canonical_json(unsigned)).hex()}

    old, new = sizes
    index = new - 1
    return {
        "older": head(old),
        "newer": head(new),
        "proof": {
            "index": index,
            "tree_size": new,
            "leaf_hash": tree.leaf_hash_at(index).hex(),
            "root": tree.root(new).hex(),
            "audit_path": [h.hex() for h in tree.inclusion_proof(index, new)],
            "entry": entries[index],
        },
        "consistency": {
            "from": old,
            "to": new,
            "proof": [h.hex() for h in tree.consistency_proof(old, new)],
        },
    }


def test_log_documents_verify_and_every_forgery_is_caught() -> None:
    from lucid_sessions.app.log_audit import audit_consistency, audit_inclusion, audit_tree_head

    signer, other = KeyPair.generate(), KeyPair.generate()
    docs = _log_documents(signer, (3, 7))
    key = signer.public_key()
    assert audit_tree_head(docs["newer"], key, verify_signature) == []
    assert audit_inclusion(docs["newer"], docs["proof"]) == []
    assert audit_consistency(docs["older"], docs["newer"], docs["consistency"]) == []
    assert audit_tree_head(docs["newer"], other.public_key(), verify_signature)
    rewritten = {**docs["proof"], "entry": {**docs["proof"]["entry"], "reason": "request"}}
    assert audit_inclusion(docs["newer"], rewritten)
    shrunk = _log_documents(signer, (3, 6))["newer"]  # a head of a log that lost an entry
    assert audit_inclusion(shrunk, docs["proof"])
    forked = {**docs["older"], "root": "00" * 32}
    assert audit_consistency(forked, docs["newer"], docs["consistency"])


def test_malformed_log_documents_are_problems_not_crashes() -> None:
    from lucid_sessions.app.log_audit import (
        audit_consistency,
        audit_entry_for_manifest,
        audit_inclusion,
        audit_tree_head,
    )

    key = KeyPair.generate().public_key()
    for bad in (
        {},
        {"tree_size": "x"},
        {"tree_size": 1, "root": "zz", "signature": "", "timestamp": "", "public_key": ""},
    ):
        assert audit_tree_head(bad, key, verify_signature)
        assert audit_inclusion(bad, {"entry": {}, "index": 0, "tree_size": 1, "audit_path": []})
        assert audit_inclusion({"tree_size": 1, "root": "00"}, bad)
        assert audit_consistency(bad, bad, bad)
    assert audit_entry_for_manifest({}, {"type": "completed"})
    assert audit_entry_for_manifest({}, {"type": "deleted"})
