"""The service-wide session log end to end: a real server on each stack, its signed tree
heads, entries and proofs over HTTP, deletions and retention leaving their entries, and the
offline auditor (`audit --log-head --log-proof`, `audit-log`) holding only the public key."""

from __future__ import annotations

import copy
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import blake3
import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from lucid_sessions.domain.manifest import canonical_json, manifest_sha256
from lucid_sessions.domain.merkle import verify_consistency, verify_inclusion
from tests.e2e.http import BASE, LOG, log_entries
from tests.e2e.test_chunks_http import recording, stamp, upload, wait_status
from tests.e2e.test_integrity_http import _trusted_public_key
from tests.servers import ALICE_TOKEN, ServiceProcess, lucid_sessions_command

pytestmark = pytest.mark.e2e


def _public_hex(server: ServiceProcess) -> str:
    key = _trusted_public_key(server)
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def _completed(http: httpx.Client, **overrides: Any) -> str:
    sid = recording(http, **overrides)
    for seq in range(3):
        upload(http, sid, seq, f"chunk {seq} of {sid}".encode() * 50)
    assert http.post(f"{BASE}/{sid}/stop").status_code == 200
    assert wait_status(http, sid, {"completed", "failed"})["status"] == "completed"
    return sid


def _entry_of(http: httpx.Client, sid: str, kind: str) -> dict[str, Any]:
    matching = [e for e in log_entries(http) if e["session_id"] == sid and e["type"] == kind]
    assert len(matching) == 1, matching
    return matching[0]


def _cli(*args: str, server: ServiceProcess | None = None) -> subprocess.CompletedProcess[str]:
    """Offline commands run with no configuration at all; others beside the server."""
    if server is not None:
        return server.run_cli(*args)
    return subprocess.run(
        [*lucid_sessions_command(), *args], capture_output=True, text=True, timeout=60, check=False
    )


def _write(path: Path, document: dict[str, Any]) -> str:
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def test_tree_head_is_signed_by_the_service_key(server: ServiceProcess) -> None:
    with server.client() as http:
        head = http.get(LOG).json()
    assert set(head) == {"tree_size", "root", "timestamp", "public_key", "key_id", "signature"}
    assert head["public_key"] == _public_hex(server)
    assert head["key_id"] == blake3.blake3(bytes.fromhex(head["public_key"])).hexdigest()[:16]
    unsigned = {k: v for k, v in head.items() if k != "signature"}
    _trusted_public_key(server).verify(bytes.fromhex(head["signature"]), canonical_json(unsigned))


def test_completed_entry_and_the_offline_audit(server: ServiceProcess, tmp_path: Path) -> None:
    with server.client() as http:
        sid = _completed(http, name="logged")
        manifest = http.get(f"{BASE}/{sid}/manifest").json()
        entry = _entry_of(http, sid, "completed")
        head = http.get(LOG).json()
        response = http.get(
            f"{LOG}/proof", params={"index": entry["index"], "tree_size": head["tree_size"]}
        )
        assert response.status_code == 200, response.text
        proof = response.json()
    assert entry["merkle_root"] == manifest["merkle_root"]
    assert entry["chunks_count"] == manifest["chunks_count"] == 3
    assert entry["size_bytes"] == manifest["size_bytes"]
    assert entry["manifest_sha256"] == manifest_sha256(manifest)
    assert entry["principal"] == "system"  # finalization signs, not the caller
    leaf = blake3.blake3(b"\x00" + canonical_json(entry)).digest()
    assert proof["leaf_hash"] == leaf.hex()
    path = [bytes.fromhex(h) for h in proof["audit_path"]]
    assert verify_inclusion(
        leaf, entry["index"], head["tree_size"], path, bytes.fromhex(head["root"])
    )

    key = _public_hex(server)
    files = {
        "manifest": _write(tmp_path / "manifest.json", manifest),
        "head": _write(tmp_path / "head.json", head),
        "proof": _write(tmp_path / "proof.json", proof),
    }
    good = _cli(
        "audit", files["manifest"], "--public-key", key,
        "--log-head", files["head"], "--log-proof", files["proof"],
    )  # fmt: skip
    assert good.returncode == 0, good.stdout + good.stderr
    assert "in the session log" in good.stdout

    # Without a trusted key nothing is called authentic, even when everything else holds.
    untrusted = _cli(
        "audit", files["manifest"], "--log-head", files["head"], "--log-proof", files["proof"]
    )
    assert untrusted.returncode == 2, untrusted.stdout

    # A rewritten entry, a head that was not signed by the key, a proof of another entry.
    forged_entry = copy.deepcopy(proof)
    forged_entry["entry"]["size_bytes"] += 1
    forged_head = dict(head, root=blake3.blake3(b"another log").hexdigest())
    for head_file, proof_file in (
        (files["head"], _write(tmp_path / "forged-proof.json", forged_entry)),
        (_write(tmp_path / "forged-head.json", forged_head), files["proof"]),
    ):
        bad = _cli(
            "audit", files["manifest"], "--public-key", key,
            "--log-head", head_file, "--log-proof", proof_file,
        )  # fmt: skip
        assert bad.returncode == 1, bad.stdout + bad.stderr
        assert "PROBLEM" in bad.stdout

    # Both options or neither.
    lone = _cli("audit", files["manifest"], "--public-key", key, "--log-head", files["head"])
    assert lone.returncode == 2


def test_deletions_leave_entries_and_heads_stay_consistent(
    server: ServiceProcess, tmp_path: Path
) -> None:
    key = _public_hex(server)
    with server.client() as http:
        older = http.get(LOG).json()
        requested = _completed(http, name="deleted on request")
        forced = recording(http, name="deleted while recording")
        upload(http, forced, 0, b"still recording")
        assert http.delete(f"{BASE}/{requested}").status_code == 200
        refused = http.delete(f"{BASE}/{forced}")
        assert refused.status_code == 409, refused.text
        assert http.delete(f"{BASE}/{forced}", params={"force": "true"}).status_code == 200
        assert http.get(f"{BASE}/{requested}").status_code == 404
        newer = http.get(LOG).json()
        by_request = _entry_of(http, requested, "deleted")
        by_force = _entry_of(http, forced, "deleted")
        proof = http.get(
            f"{LOG}/proof", params={"index": by_force["index"], "tree_size": newer["tree_size"]}
        ).json()
        consistency = http.get(
            f"{LOG}/consistency", params={"from": older["tree_size"], "to": newer["tree_size"]}
        ).json()
    assert by_request["reason"] == "request"
    assert by_request["chunks_count"] == 3
    assert by_request["merkle_root"]
    assert by_force["reason"] == "force"
    assert by_force["chunks_count"] == 1
    assert newer["tree_size"] >= older["tree_size"] + 3  # completed + two deletions
    hashes = [bytes.fromhex(h) for h in consistency["proof"]]
    assert verify_consistency(
        older["tree_size"],
        newer["tree_size"],
        bytes.fromhex(older["root"]),
        bytes.fromhex(newer["root"]),
        hashes,
    )

    files = [
        _write(tmp_path / "newer.json", newer),
        "--proof", _write(tmp_path / "proof.json", proof),
        "--older-head", _write(tmp_path / "older.json", older),
        "--consistency", _write(tmp_path / "consistency.json", consistency),
    ]  # fmt: skip
    good = _cli("audit-log", *files, "--public-key", key)
    assert good.returncode == 0, good.stdout + good.stderr
    assert f"deleted {forced}, reason force" in good.stdout

    # A log rewritten after the older head was kept: its consistency proof cannot hold.
    rewritten = dict(older, root=blake3.blake3(b"rewritten").hexdigest())
    files[4] = _write(tmp_path / "rewritten.json", rewritten)
    bad = _cli("audit-log", *files, "--public-key", key)
    assert bad.returncode == 1, bad.stdout + bad.stderr

    # The older head must be signed by the trusted key too; and the key is required.
    assert _cli("audit-log", files[0]).returncode == 2


def test_entries_and_proofs_are_for_admins(server: ServiceProcess) -> None:
    with server.client(ALICE_TOKEN) as http:
        assert http.get(LOG).status_code == 200
        assert http.get(f"{LOG}/consistency", params={"from": 0}).status_code == 200
        for path, params in ((f"{LOG}/entries", {}), (f"{LOG}/proof", {"index": 0})):
            response = http.get(path, params=params)
            assert response.status_code == 403, response.text
    with server.client() as http:
        size = http.get(LOG).json()["tree_size"]
        for params in ({"index": size}, {"index": 0, "tree_size": size + 1}, {"index": -1}):
            assert http.get(f"{LOG}/proof", params=params).status_code == 400
        assert http.get(f"{LOG}/consistency", params={"from": size + 1}).status_code == 400
        assert http.get(f"{LOG}/entries", params={"start": 0, "end": 1001}).status_code == 400


def test_retention_sweep_from_the_command_line(server: ServiceProcess) -> None:
    with server.client() as http:
        expiring = _completed(http, name="expiring", storage_config={"retention_days": 1})
        held = _completed(
            http, name="held", storage_config={"retention_days": 1, "legal_hold": True}
        )
        kept = _completed(http, name="kept", storage_config={"retention_days": 30})
    later = stamp(datetime.now(UTC) + timedelta(days=2))

    dry = _cli("retention", "sweep", "--as-of", later, "--dry-run", server=server)
    assert dry.returncode == 0, dry.stderr
    lines = [json.loads(line) for line in dry.stdout.splitlines()]
    listed = {line["session_id"]: line["outcome"] for line in lines if "session_id" in line}
    assert listed.get(expiring) == "would_delete"
    assert held not in listed
    assert kept not in listed
    assert lines[-1]["summary"]["dry_run"] is True
    with server.client() as http:
        assert http.get(f"{BASE}/{expiring}").status_code == 200  # a dry run deletes nothing

    swept = _cli("retention", "sweep", "--as-of", later, server=server)
    assert swept.returncode == 0, swept.stderr
    lines = [json.loads(line) for line in swept.stdout.splitlines()]
    outcomes = {line["session_id"]: line["outcome"] for line in lines if "session_id" in line}
    assert outcomes.get(expiring) == "deleted"
    assert lines[-1]["summary"]["deleted"] >= 1
    with server.client() as http:
        assert http.get(f"{BASE}/{expiring}").status_code == 404
        assert http.get(f"{BASE}/{held}").status_code == 200
        assert http.get(f"{BASE}/{kept}").status_code == 200
        entry = _entry_of(http, expiring, "deleted")
        assert entry["reason"] == "retention"
        assert entry["principal"] == "system"
        deleted = {e["session_id"] for e in log_entries(http) if e["type"] == "deleted"}
        assert held not in deleted

    again = _cli("retention", "sweep", "--as-of", later, server=server)
    assert expiring not in again.stdout  # nothing is deleted twice

    bad = _cli("retention", "sweep", "--as-of", "yesterday", server=server)
    assert bad.returncode == 2
    assert "RFC 3339" in bad.stderr
