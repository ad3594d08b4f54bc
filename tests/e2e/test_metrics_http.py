"""/metrics end to end: after real work on a real server (each stack), the exposition parses
with prometheus_client's parser, passes `promtool check metrics`, and shows what an operator
watches: sessions by status, ingest and downloads, stages, finalization, deletions, the
session log and its anchoring, the cache."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.components import unavailable
from tests.e2e.http import BASE, metric_value
from tests.e2e.test_chunks_http import recording, upload, wait_status
from tests.servers import ServiceProcess

pytestmark = pytest.mark.e2e

CHUNK_ROUTE = "/api/v1/sessions/{session_id}/chunks/{chunk_id}"


@pytest.fixture(scope="module")
def exposition(server: ServiceProcess) -> Iterator[str]:
    with server.client() as http:
        done = recording(http, name="measured")
        for seq in range(3):
            upload(http, done, seq, b"frame %d " % seq * 20_000)
        assert http.get(f"{BASE}/{done}/chunks/1/download").status_code == 200
        assert http.post(f"{BASE}/{done}/stop").status_code == 200
        assert wait_status(http, done, {"completed", "failed"})["status"] == "completed"
        gone = recording(http, name="deleted")
        assert http.delete(f"{BASE}/{gone}", params={"force": "true"}).status_code == 200
        assert http.get("/no/such/route").status_code == 404
        response = http.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=")
        yield response.text


def _families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_exposition_parses_with_the_expected_types(exposition: str) -> None:
    families = _families(exposition)
    expected = {
        "lucid_sessions": "gauge",
        "lucid_chunks_ingested": "counter",
        "lucid_ingested_bytes": "counter",
        "lucid_stored_bytes": "gauge",
        "lucid_storage_free_bytes": "gauge",
        "lucid_chunk_ingest_duration_seconds": "histogram",
        "lucid_chunk_download_duration_seconds": "histogram",
        "lucid_http_requests": "counter",
        "lucid_http_request_duration_seconds": "histogram",
        "lucid_pipeline_stage_seconds": "counter",
        "lucid_finalizations": "counter",
        "lucid_retention_sessions": "counter",
        "lucid_session_deletions": "counter",
        "lucid_quota_refusals": "counter",
        "lucid_chunks_corrupt": "counter",
        "lucid_session_log_size": "gauge",
        "lucid_session_log_anchored_size": "gauge",
        "lucid_anchoring_attempts": "counter",
        "lucid_session_cache_lookups": "counter",
        "lucid_session_cache_hit_ratio": "gauge",
        "lucid_asyncio_tasks": "gauge",
        "process_resident_memory_bytes": "gauge",
        "process_open_fds": "gauge",
        "process_cpu_seconds": "counter",
    }
    found = {name: families[name].type for name in expected if name in families}
    assert found == expected


def test_the_work_done_shows(exposition: str, server: ServiceProcess) -> None:
    text = exposition
    assert metric_value(text, "lucid_sessions", status="completed") >= 1
    assert "deleting" not in {
        s.labels.get("status") for s in _families(text)["lucid_sessions"].samples
    }
    assert metric_value(text, "lucid_chunks_ingested_total") >= 3
    assert metric_value(text, "lucid_ingested_bytes_total") >= 3 * 160_000
    assert metric_value(text, "lucid_stored_bytes") > 0
    assert metric_value(text, "lucid_storage_free_bytes") > 0
    assert metric_value(text, "lucid_chunk_ingest_duration_seconds_count") >= 3
    assert metric_value(text, "lucid_chunk_download_duration_seconds_count") >= 1
    assert metric_value(text, "lucid_pipeline_stage_seconds_total", stage="compression") > 0
    assert metric_value(text, "lucid_pipeline_stage_seconds_total", stage="finalization") > 0
    assert metric_value(text, "lucid_finalizations_total", outcome="completed") >= 1
    assert metric_value(text, "lucid_session_deletions_total", reason="force") >= 1
    assert metric_value(text, "lucid_session_log_size") >= 2  # a completion and a deletion
    assert metric_value(text, "lucid_quota_refusals_total", reason="free_space") == 0
    assert metric_value(text, "lucid_anchoring_attempts_total", outcome="failed") == 0
    uploads = metric_value(
        text, "lucid_http_requests_total", method="PUT", route=CHUNK_ROUTE, status="201"
    )
    assert uploads >= 3
    assert metric_value(text, "lucid_http_requests_total", route="unmatched", status="404") >= 1
    # The process, as a leak would show: read from the server's own /proc and event loop.
    pid = server.process.pid if server.process else 0
    rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    assert 0.5 * rss < metric_value(text, "process_resident_memory_bytes") < 2 * rss
    assert metric_value(text, "process_open_fds") >= 3
    assert metric_value(text, "lucid_asyncio_tasks") >= 1  # at least the request being served
    lookups = metric_value(text, "lucid_session_cache_lookups_total", result="hit") + metric_value(
        text, "lucid_session_cache_lookups_total", result="miss"
    )
    if server.env.get("REDIS_URL"):
        assert lookups > 0
        assert 0 <= metric_value(text, "lucid_session_cache_hit_ratio") <= 1
    else:
        assert lookups == 0  # no cache configured


def test_no_created_series(exposition: str) -> None:
    assert "_created" not in exposition


def test_promtool_accepts_the_exposition(exposition: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        unavailable("promtool", "promtool is not on PATH")
    checked = subprocess.run(
        [promtool, "check", "metrics"],
        input=exposition,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
