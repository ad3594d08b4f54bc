"""The chunk store on a real, small tmpfs: full, then read-only, then back. Each failed upload
answers 507 or 503 and stores nothing; every acknowledged chunk stays intact and verifiable.

Needs `mount -t tmpfs` (root, or a container allowed to mount); elsewhere it skips, and
`tests/unit/test_storage_faults.py` covers the same with an injected fault.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.components import unavailable
from tests.e2e.http import BASE, OCTETS
from tests.servers import ServiceProcess

pytestmark = pytest.mark.e2e

CHUNK = 256 * 1024


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def small_volume(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "chunks"
    folder.mkdir()
    mounted = _mount("-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", str(folder))
    if mounted.returncode != 0:
        unavailable("tmpfs", f"mount -t tmpfs failed: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_then_read_only_chunk_store_loses_nothing(
    small_volume: Path, tmp_path: Path, stack_env: dict[str, str]
) -> None:
    if stack_env.get("LUCID_BLOB_STORE") == "s3":
        pytest.skip(
            "a full volume is a filesystem fault; the object store's faults are contract "
            "tests on a real radosgw: killed mid-upload (test_s3_blob_store.py::"
            "test_an_upload_cut_off_halfway_leaves_the_old_object), a wrong secret "
            "(test_s3_blob_store.py::test_a_wrong_secret_is_refused_by_the_signature_check), "
            "hung (test_hung_s3_gateway.py::"
            "test_put_and_get_on_a_hung_gateway_answer_unavailable_within_a_bound; "
            "test_health_probe_contract.py::test_up_down_and_back[s3] for the probe)"
        )
    env = {
        **stack_env,
        "LUCID_CHUNK_STORE_PATH": str(small_volume),
        "LUCID_CHUNK_STORE_MIN_FREE_MB": "0",  # no floor: the volume really fills up
    }
    service = ServiceProcess(tmp_path / "service", env=env)
    service.data_dir.mkdir()
    service.start()
    stored: list[bytes] = []
    try:
        with service.client() as http:
            sid = http.post(BASE, json={"name": "full", "rdp_config": {"host": "h"}}).json()
            sid = sid["session_id"]
            assert http.post(f"{BASE}/{sid}/start").status_code == 200
            full = None
            for n in range(32):  # 8 MiB of incompressible chunks into 2 MiB
                data = os.urandom(CHUNK)
                answer = http.put(f"{BASE}/{sid}/chunks/{n}", content=data, headers=OCTETS)
                if answer.status_code != 201:
                    full = answer
                    break
                stored.append(data)
            assert full is not None, "8 MiB fitted in 2 MiB?"
            assert full.status_code == 507, full.text
            assert "Traceback" not in full.text
            assert str(small_volume) not in full.text
            assert http.get(f"{BASE}/{sid}").json()["statistics"]["chunks_count"] == len(stored)
            assert not list(small_volume.rglob("*.tmp")), "no half-written blob is left"
            for n, data in enumerate(stored):
                assert http.get(f"{BASE}/{sid}/chunks/{n}/download").content == data

            assert _mount("-o", "remount,ro", str(small_volume)).returncode == 0
            refused = http.put(
                f"{BASE}/{sid}/chunks/{len(stored)}", content=b"small", headers=OCTETS
            )
            assert refused.status_code == 503, refused.text
            assert "retry-after" in refused.headers
            assert http.get(f"{BASE}/{sid}/recording").content == b"".join(stored)

            assert _mount("-o", "remount,rw,size=16m", str(small_volume)).returncode == 0
            more = os.urandom(CHUNK)
            again = http.put(f"{BASE}/{sid}/chunks/{len(stored)}", content=more, headers=OCTETS)
            assert again.status_code == 201, again.text
            stored.append(more)
            assert http.post(f"{BASE}/{sid}/stop").status_code == 200
        verified = service.run_cli("verify", sid)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert f"chunks verified: {len(stored)}" in verified.stdout
    finally:
        service.stop()
