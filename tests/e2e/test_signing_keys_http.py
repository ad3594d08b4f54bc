"""The signing keys end to end: the key set over HTTP, manifests and tree heads naming their
key, `keys rotate-signing` run beside a running server (which signs with the new key from
then on, without a restart), and the offline audit trusting the published key set."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from lucid_sessions.domain.key_set import key_id_of
from tests.e2e.http import BASE, LOG
from tests.e2e.test_chunks_http import recording, upload, wait_status
from tests.servers import ALICE_TOKEN, ServiceProcess, lucid_sessions_command

pytestmark = pytest.mark.e2e

KEYS = f"{BASE}/keys"


def _manifest(http: httpx.Client) -> dict[str, Any]:
    """The manifest of a session recorded, stopped and completed now."""
    sid = recording(http)
    for seq in range(3):
        upload(http, sid, seq, f"chunk {seq} of {sid}".encode() * 50)
    assert http.post(f"{BASE}/{sid}/stop").status_code == 200
    assert wait_status(http, sid, {"completed", "failed"})["status"] == "completed"
    manifest: dict[str, Any] = http.get(f"{BASE}/{sid}/manifest").json()
    return manifest


def _keys(http: httpx.Client) -> dict[str, Any]:
    answer = http.get(KEYS)
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def _audit(*args: str) -> subprocess.CompletedProcess[str]:
    """The offline auditor: no configuration at all."""
    return subprocess.run(
        [*lucid_sessions_command(), "audit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _write(path: Path, document: dict[str, Any]) -> str:
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def test_the_key_set_needs_a_principal(own_server: ServiceProcess) -> None:
    with own_server.client(token=None) as anonymous:
        refused = anonymous.get(KEYS)
    assert refused.status_code == 401, refused.text
    assert refused.headers["content-type"].startswith("application/json")
    with own_server.client(ALICE_TOKEN) as alice:
        (key,) = _keys(alice)["keys"]
    assert key["status"] == "current"
    assert key["algorithm"] == "ed25519"
    assert key["key_id"] == key_id_of(bytes.fromhex(key["public_key"]))
    assert key["retired_at"] is None


def test_rotation_reaches_the_running_server_and_the_key_set_verifies_both(
    own_server: ServiceProcess, tmp_path: Path
) -> None:
    with own_server.client() as http:
        (old,) = _keys(http)["keys"]
        first = _manifest(http)
        assert (first["key_id"], first["public_key"]) == (old["key_id"], old["public_key"])
        head = http.get(LOG).json()
        assert head["key_id"] == old["key_id"]

        rotated = own_server.run_cli("keys", "rotate-signing")
        assert rotated.returncode == 0, rotated.stdout + rotated.stderr
        assert old["key_id"] in rotated.stdout

        second = _manifest(http)  # the same server process, no restart
        published = _keys(http)
        assert http.get(LOG).json()["key_id"] == second["key_id"]
    assert second["key_id"] != old["key_id"]
    assert second["key_id"] in rotated.stdout
    assert [(k["key_id"], k["status"]) for k in published["keys"]] == [
        (old["key_id"], "retired"),
        (second["key_id"], "current"),
    ]
    retired_at = _instant(published["keys"][0]["retired_at"])
    assert _instant(first["finalized_at"]) <= retired_at, "the old key signed before it"

    key_set = _write(tmp_path / "keys.json", published)
    for manifest in (first, second):
        audited = _audit(_write(tmp_path / "manifest.json", manifest), "--key-set", key_set)
        assert audited.returncode == 0, audited.stdout + audited.stderr
        assert "result: OK" in audited.stdout
    second_file = _write(tmp_path / "second.json", second)
    only_old = _audit(second_file, "--public-key", old["public_key"])
    assert only_old.returncode == 1, only_old.stdout + only_old.stderr
    assert "another public key than the trusted one" in only_old.stdout

    older_head = _write(tmp_path / "head.json", head)
    audited_head = subprocess.run(
        [*lucid_sessions_command(), "audit-log", older_head, "--key-set", key_set],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert audited_head.returncode == 0, audited_head.stdout + audited_head.stderr
