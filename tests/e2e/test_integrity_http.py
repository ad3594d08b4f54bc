"""Merkle proofs and the signed manifest, over a real server, checked like an auditor would."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import blake3
import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from lucid_sessions.domain.manifest import canonical_bytes
from lucid_sessions.domain.merkle import (
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from tests.e2e.conftest import uses_token
from tests.e2e.http import BASE
from tests.e2e.test_chunks_http import (
    leaf_hex,
    noise,
    recording,
    screen_like,
    session,
    upload,
    wait_status,
)
from tests.e2e.test_sessions_http import assert_error
from tests.servers import ServiceProcess, lucid_sessions_command
from tests.softhsm import SoftHsmToken, public_signing_keys

pytestmark = pytest.mark.e2e

TOTAL = 13
SIZES = (1, 2, 3, 4, 5, 7, 8, 12, 13)


def _chunk(seq: int) -> bytes:
    return screen_like(500 + seq, 1000 + 37 * seq) if seq % 3 else noise(500 + seq, 300 + seq)


@pytest.fixture(scope="module")
def grown(server: ServiceProcess) -> dict[str, Any]:
    """A recording session of TOTAL chunks, with the root observed at every tree size."""
    with server.client(timeout=30.0) as http:
        sid = recording(http)
        chunks, roots = [], {0: blake3.blake3(b"").hexdigest()}
        for seq in range(TOTAL):
            data = _chunk(seq)
            upload(http, sid, seq, data)
            chunks.append(data)
            roots[seq + 1] = session(http, sid)["merkle_root"]
    return {"sid": sid, "chunks": chunks, "roots": roots}


def test_roots_follow_rfc9162(grown: dict[str, Any]) -> None:
    chunks, roots = grown["chunks"], grown["roots"]
    for size in range(1, TOTAL + 1):
        leaves = [bytes.fromhex(leaf_hex(c)) for c in chunks[:size]]
        assert roots[size] == root_from_leaf_hashes(leaves).hex(), size


def test_inclusion_proofs_verify_at_every_size(client: httpx.Client, grown: dict[str, Any]) -> None:
    sid, chunks, roots = grown["sid"], grown["chunks"], grown["roots"]
    for size in SIZES:
        root = bytes.fromhex(roots[size])
        for k in range(size):
            response = client.get(f"{BASE}/{sid}/chunks/{k}/proof", params={"tree_size": size})
            assert response.status_code == 200, response.text
            proof = response.json()
            assert proof["sequence_number"] == k
            assert proof["tree_size"] == size
            assert proof["root"] == roots[size]
            assert proof["leaf_hash"] == leaf_hex(chunks[k])
            path = [bytes.fromhex(h) for h in proof["audit_path"]]
            leaf = bytes.fromhex(leaf_hex(chunks[k]))
            assert verify_inclusion(leaf, k, size, path, root), (k, size)
            # The verifier is not a rubber stamp: another leaf or size fails.
            other = bytes.fromhex(leaf_hex(chunks[k] + b"x"))
            assert not verify_inclusion(other, k, size, path, root)
            if size > 1:
                assert not verify_inclusion(leaf, k, size, path, bytes.fromhex(roots[size - 1]))


def test_default_tree_size_is_the_current_size(client: httpx.Client, grown: dict[str, Any]) -> None:
    sid, chunks = grown["sid"], grown["chunks"]
    manifest = client.get(f"{BASE}/{sid}/manifest").json()
    assert manifest["chunks_count"] == TOTAL
    assert manifest["merkle_root"] == grown["roots"][TOTAL]
    assert manifest["signature"] is None
    assert manifest["status"] == "recording"
    root = bytes.fromhex(manifest["merkle_root"])
    for k in (0, 6, TOTAL - 1):
        proof = client.get(f"{BASE}/{sid}/chunks/{k}/proof").json()
        assert proof["tree_size"] == TOTAL
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        assert verify_inclusion(bytes.fromhex(leaf_hex(chunks[k])), k, TOTAL, path, root)


@pytest.mark.parametrize("tree_size", ["0", "3", "2", str(TOTAL + 1), "-1", "abc", "1.5"])
def test_tree_size_out_of_range_is_400(
    client: httpx.Client, grown: dict[str, Any], tree_size: str
) -> None:
    # Chunk 3 needs 3 < tree_size <= TOTAL.
    response = client.get(f"{BASE}/{grown['sid']}/chunks/3/proof", params={"tree_size": tree_size})
    assert_error(response, 400, "tree_size")


def test_proof_of_a_missing_chunk_is_404(client: httpx.Client, grown: dict[str, Any]) -> None:
    sid = grown["sid"]
    assert_error(client.get(f"{BASE}/{sid}/chunks/{TOTAL}/proof"), 404)
    assert_error(client.get(f"{BASE}/{sid}/chunks/999/proof"), 404)
    assert_error(client.get(f"{BASE}/sess-00000000000000000000000000/chunks/0/proof"), 404)


def test_consistency_proofs_verify(client: httpx.Client, grown: dict[str, Any]) -> None:
    sid, roots = grown["sid"], grown["roots"]
    for first in (0, *SIZES):
        for second in (s for s in SIZES if s >= first):
            response = client.get(f"{BASE}/{sid}/consistency", params={"from": first, "to": second})
            assert response.status_code == 200, response.text
            body = response.json()
            assert (body["from"], body["to"]) == (first, second)
            assert body["from_root"] == roots[first]
            assert body["to_root"] == roots[second]
            proof = [bytes.fromhex(h) for h in body["proof"]]
            old, new = bytes.fromhex(roots[first]), bytes.fromhex(roots[second])
            assert verify_consistency(first, second, old, new, proof), (first, second)
            if 0 < first < second:
                wrong = bytes.fromhex(roots[first - 1]) if first > 1 else bytes(32)
                assert not verify_consistency(first, second, wrong, new, proof)
    latest = client.get(f"{BASE}/{sid}/consistency", params={"from": 5}).json()
    assert latest["to"] == TOTAL
    assert latest["to_root"] == roots[TOTAL]


@pytest.mark.parametrize(
    "params",
    [
        {"from": 5, "to": 4},
        {"from": 0, "to": TOTAL + 1},
        {"from": TOTAL + 1},
        {"from": -1, "to": 3},
        {"from": "abc", "to": 3},
        {"from": 1, "to": "x"},
        {"to": 3},
    ],
)
def test_bad_consistency_bounds_are_400(
    client: httpx.Client, grown: dict[str, Any], params: dict[str, Any]
) -> None:
    assert_error(client.get(f"{BASE}/{grown['sid']}/consistency", params=params), 400)


# -- the signed manifest, audited offline -----------------------------------------------------


def _trusted_public_key(server: ServiceProcess) -> Ed25519PublicKey:
    """The service's key as an operator would hand it to an auditor (out of band): from the
    key file, or read from the token."""
    if uses_token(dict(server.env)):
        token = SoftHsmToken(
            server.env["LUCID_PKCS11_MODULE"],
            server.env["LUCID_PKCS11_TOKEN_LABEL"],
            "",
            Path(server.env["LUCID_PKCS11_PIN_FILE"]),
        )
        (raw,) = public_signing_keys(token)
        return Ed25519PublicKey.from_public_bytes(raw)
    pems = list(server.data_dir.rglob("signing-key.pem"))
    assert len(pems) == 1, pems
    private = serialization.load_pem_private_key(pems[0].read_bytes(), password=None)
    public = private.public_key()
    assert isinstance(public, Ed25519PublicKey)
    return public


def audit(manifest: dict[str, Any], key: Ed25519PublicKey, chunks: list[bytes]) -> list[str]:
    """Every problem an offline auditor finds; empty when the manifest holds."""
    problems = []
    entries = manifest["chunks"]
    if [e["sequence_number"] for e in entries] != list(range(len(entries))):
        problems.append("sequence")
    if manifest["chunks_count"] != len(entries) or len(chunks) != len(entries):
        problems.append("count")
    if sum(e["size_bytes"] for e in entries) != manifest["size_bytes"]:
        problems.append("size_bytes")
    for entry, data in zip(entries, chunks, strict=False):
        if blake3.blake3(data).hexdigest() != entry["blake3"] or len(data) != entry["size_bytes"]:
            problems.append(f"chunk {entry['sequence_number']}")
    leaves = [bytes.fromhex(leaf_hex(data)) for data in chunks]
    if root_from_leaf_hashes(leaves).hex() != manifest["merkle_root"]:
        problems.append("root")
    documented = json.dumps(
        {k: v for k, v in manifest.items() if k != "signature"},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    assert canonical_bytes(manifest) == documented
    try:
        key.verify(bytes.fromhex(manifest["signature"] or ""), canonical_bytes(manifest))
    except (InvalidSignature, ValueError):
        problems.append("signature")
    return problems


@pytest.fixture(scope="module")
def completed(server: ServiceProcess) -> dict[str, Any]:
    with server.client(timeout=30.0) as http:
        sid = recording(http, name="audited session ✓", metadata={"project": "é"})
        chunks = [_chunk(seq) for seq in range(6)] + [b""]
        for seq, data in enumerate(chunks):
            upload(http, sid, seq, data)
        stopped = http.post(f"{BASE}/{sid}/stop")
        assert stopped.status_code == 200, stopped.text
        final = wait_status(http, sid, {"completed", "failed"})
        assert final["status"] == "completed", final
        manifest = http.get(f"{BASE}/{sid}/manifest").json()
        downloaded = []
        for seq in range(len(chunks)):
            response = http.get(f"{BASE}/{sid}/chunks/{seq}/download")
            assert response.status_code == 200, response.text
            downloaded.append(response.content)
        recording_bytes = http.get(f"{BASE}/{sid}/recording").content
    assert downloaded == chunks
    return {
        "sid": sid,
        "chunks": chunks,
        "manifest": manifest,
        "final": final,
        "downloaded": downloaded,
        "recording": recording_bytes,
    }


def test_completed_manifest_is_signed_and_audits_offline(
    completed: dict[str, Any], server: ServiceProcess
) -> None:
    manifest, final = completed["manifest"], completed["final"]
    key = _trusted_public_key(server)
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert manifest["public_key"] == raw.hex()
    assert manifest["status"] == "completed"
    assert manifest["session_id"] == completed["sid"]
    assert manifest["hash_algorithm"] == "blake3"
    assert manifest["tree"] == "rfc9162"
    assert manifest["finalized_at"]
    assert manifest["chunks_count"] == len(completed["chunks"])
    assert manifest["merkle_root"] == final["merkle_root"]
    assert final["completed_at"]
    assert audit(manifest, key, completed["downloaded"]) == []
    # The manifest is final: asked again, it is byte for byte the same.


def test_completed_manifest_is_stable_and_proofs_verify_against_it(
    client: httpx.Client, completed: dict[str, Any]
) -> None:
    sid, manifest = completed["sid"], completed["manifest"]
    assert client.get(f"{BASE}/{sid}/manifest").json() == manifest
    root, size = bytes.fromhex(manifest["merkle_root"]), manifest["chunks_count"]
    for k, entry in enumerate(manifest["chunks"]):
        proof = client.get(f"{BASE}/{sid}/chunks/{k}/proof").json()
        leaf = blake3.blake3(b"\x00" + bytes.fromhex(entry["blake3"])).digest()
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        assert verify_inclusion(leaf, k, size, path, root)


def _tampered(manifest: dict[str, Any], what: str) -> dict[str, Any]:
    forged = copy.deepcopy(manifest)
    if what == "blake3":
        forged["chunks"][2]["blake3"] = blake3.blake3(b"forged").hexdigest()
    elif what == "size":
        forged["chunks"][1]["size_bytes"] += 1
        forged["size_bytes"] += 1
    elif what == "root":
        forged["merkle_root"] = blake3.blake3(b"another root").hexdigest()
    elif what == "drop-last":
        forged["chunks"].pop()
        forged["chunks_count"] -= 1
    elif what == "session":
        forged["session_id"] = "sess-00000000000000000000000000"
    elif what == "signature":
        signature = bytearray(bytes.fromhex(forged["signature"]))
        signature[0] ^= 1
        forged["signature"] = signature.hex()
    return forged


@pytest.mark.parametrize("what", ["blake3", "size", "root", "drop-last", "session", "signature"])
def test_tampered_manifest_fails_the_audit(
    completed: dict[str, Any], server: ServiceProcess, what: str
) -> None:
    key = _trusted_public_key(server)
    forged = _tampered(completed["manifest"], what)
    problems = audit(forged, key, completed["downloaded"])
    assert "signature" in problems, problems


def test_tampered_chunk_bytes_fail_the_audit(
    completed: dict[str, Any], server: ServiceProcess
) -> None:
    key = _trusted_public_key(server)
    chunks = list(completed["downloaded"])
    chunks[3] = chunks[3][:-1] + bytes([chunks[3][-1] ^ 1])
    problems = audit(completed["manifest"], key, chunks)
    assert "chunk 3" in problems
    assert "root" in problems


def _audit_cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*lucid_sessions_command(), "audit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_audit_cli(completed: dict[str, Any], server: ServiceProcess, tmp_path: Path) -> None:
    key = _trusted_public_key(server)
    hex_key = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    manifest_file = tmp_path / "manifest.json"
    manifest_file.write_text(json.dumps(completed["manifest"]), encoding="utf-8")
    recording_file = tmp_path / "recording.bin"
    recording_file.write_bytes(completed["recording"])
    assert completed["recording"] == b"".join(completed["chunks"])
    good = _audit_cli(
        [str(manifest_file), "--public-key", hex_key, "--recording", str(recording_file)]
    )
    assert good.returncode == 0, good.stdout + good.stderr
    forged_file = tmp_path / "forged.json"
    forged_file.write_text(json.dumps(_tampered(completed["manifest"], "blake3")), encoding="utf-8")
    bad = _audit_cli([str(forged_file), "--public-key", hex_key])
    assert bad.returncode == 1, bad.stdout + bad.stderr
    damaged = bytearray(completed["recording"])
    damaged[len(damaged) // 2] ^= 0xFF
    recording_file.write_bytes(bytes(damaged))
    broken = _audit_cli(
        [str(manifest_file), "--public-key", hex_key, "--recording", str(recording_file)]
    )
    assert broken.returncode == 1, broken.stdout + broken.stderr
