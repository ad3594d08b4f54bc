"""The chaos soak (`bench/run.py soak`) as a test: two minutes of two recorders on three
replicas sharing MongoDB, Redis and S3 while a replica is killed and another drained, the S3
gateway stopped, Redis restarted, MongoDB stalled and a blob corrupted; every audit line of
the run must pass. About two and a half minutes (its own stack starts in about ten seconds);
the long run is the documented command (docs/operations.md, "Endurance")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.components import unavailable
from tests.servers_db import ServerUnavailable, mongoeco_python, redis_server_binary
from tests.servers_s3 import s3_binaries

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def _components() -> None:
    for check in (redis_server_binary, mongoeco_python, s3_binaries):
        try:
            check()
        except ServerUnavailable as exc:
            unavailable(exc.component, str(exc))


@pytest.mark.timeout(900)
def test_the_soak_passes_every_audit() -> None:
    _components()
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "soak",
            *("--minutes", "2", "--recorders", "2", "--seed", "7"),
        ],
        capture_output=True,
        text=True,
        timeout=840,
        cwd=ROOT,
        check=False,
    )
    output = done.stdout + done.stderr
    audits = [line for line in done.stdout.splitlines() if line.startswith("soak.audit.")]
    assert audits, output
    failed = [line for line in audits if ": PASS " not in line]
    assert not failed, output
    assert done.returncode == 0, output
