"""The benchmark command runs (tiny sizes, one run) and prints every figure with its
baseline and goal. Nothing here asserts a speed: the figures of a tiny run mean nothing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.components import unavailable
from tests.servers import LONGEST_SUBPROCESS
from tests.servers_s3 import S3Server

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
GOALS = [
    "api.get_session",
    "api.get_session_p99",
    "api.get_session_bounded_protocol",
    "api.list_project_environment_4_clients_p99",
    "api.list_status_environment_4_clients_p99",
    "ingest.http_one_uploader",
    "ingest.http_two_uploaders",
    "ingest.http_body_floor",
    "ingest.http_bounded_protocol",
    "download.recording_2MiB",
    "download.single_chunks_2x1MiB",
    "download.recording_rss_growth",
    "startup.seconds_to_healthy",
    "startup.idle_rss",
    "playback.indexing_share_of_ingest",
    "playback.playlist_one_hour_p99",
    "playback.seek_first_byte_p99",
    "keys.ingest_token",
    "keys.download_token",
    "keys.ingest_token_uncached",
    "keys.download_token_uncached",
]


def test_the_benchmark_command_prints_every_goal(s3_server: S3Server) -> None:
    if shutil.which("wrk") is None:
        unavailable("wrk", "wrk is not on PATH")
    gateway = {  # the session's gateway: the S3 figures start no cluster of their own
        "BENCH_S3_ENDPOINT": s3_server.endpoint,
        "BENCH_S3_ACCESS_KEY_ID": s3_server.access_key,
        "BENCH_S3_SECRET_ACCESS_KEY": s3_server.secret_key,
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--tiny", "--runs", "1"],
        capture_output=True,
        text=True,
        timeout=LONGEST_SUBPROCESS,
        check=False,
        cwd=ROOT,
        env={**os.environ, **gateway},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = {line.split(":", 1)[0]: line for line in done.stdout.splitlines() if ": " in line}
    for name in GOALS:
        assert name in lines, f"{name} missing from:\n{done.stdout}"
        assert re.search(r" (PASS|MISS) target ", lines[name]), lines[name]
    assert "ratio" in lines["api.get_session"]
    assert lines["bench.other_load"]
