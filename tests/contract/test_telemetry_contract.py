"""Telemetry contract: the recording fake and the Prometheus adapter count the same events
the same way (read back from the fake's counts and from the parsed exposition)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lucid_sessions.adapters.memory import RecordingTelemetry
from lucid_sessions.adapters.telemetry.prometheus import PrometheusTelemetry
from lucid_sessions.domain.ports.telemetry import ServiceFigures, Telemetry

# event -> (Prometheus sample, its label name or "")
SAMPLES = {
    "chunk_ingested": ("lucid_chunks_ingested_total", ""),
    "chunk_downloaded": ("lucid_chunk_download_duration_seconds_count", ""),
    "chunk_corrupt": ("lucid_chunks_corrupt_total", ""),
    "quota_refused": ("lucid_quota_refusals_total", "reason"),
    "stage_seconds": ("lucid_pipeline_stage_seconds_total", "stage"),
    "finalized": ("lucid_finalizations_total", "outcome"),
    "retention_swept": ("lucid_retention_sessions_total", "outcome"),
    "session_deleted": ("lucid_session_deletions_total", "reason"),
    "anchoring": ("lucid_anchoring_attempts_total", "outcome"),
    "cache_lookup": ("lucid_session_cache_lookups_total", "result"),
}
GAUGES = {
    "stored_bytes": "lucid_stored_bytes",
    "storage_free_bytes": "lucid_storage_free_bytes",
    "log_size": "lucid_session_log_size",
    "log_anchored_size": "lucid_session_log_anchored_size",
}


@dataclass
class Harness:
    telemetry: Telemetry
    total: Callable[[str, str], float]
    """An event's total: how many times it was reported (stage_seconds: the seconds)."""
    level: Callable[[str, str], float]
    """A figure's current value (sessions: by status)."""


def _recording() -> Harness:
    fake = RecordingTelemetry()

    def total(event: str, label: str) -> float:
        if event == "stage_seconds":
            return fake.seconds.get((event, label), 0.0)
        return float(fake.counts[(event, label)])

    def level(name: str, status: str) -> float:
        if name == "sessions":
            return float(fake.latest.sessions_by_status.get(status, 0))
        return float(getattr(fake.latest, name))

    return Harness(fake, total, level)


def _prometheus() -> Harness:
    adapter = PrometheusTelemetry(("recording", "completed"))

    def samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = adapter.render().decode()
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def total(event: str, label: str) -> float:
        if event == "request_served":  # the fake's label is "METHOD ROUTE STATUS"
            method, route, status = label.split(" ")
            labels = (("method", method), ("route", route), ("status", status))
            return samples().get(("lucid_http_requests_total", labels), 0.0)
        name, label_name = SAMPLES[event]
        labels = ((label_name, label),) if label_name else ()
        return samples().get((name, labels), 0.0)

    def level(name: str, status: str) -> float:
        if name == "sessions":
            return samples()[("lucid_sessions", (("status", status),))]
        return samples()[(GAUGES[name], ())]

    return Harness(adapter, total, level)


@pytest.fixture(params=["recording", "prometheus"])
def harness(request: pytest.FixtureRequest) -> Harness:
    return _recording() if request.param == "recording" else _prometheus()


LABELLED = [
    ("quota_refused", "session_quota"),
    ("quota_refused", "free_space"),
    ("finalized", "completed"),
    ("finalized", "failed"),
    ("retention_swept", "deleted"),
    ("retention_swept", "skipped"),
    ("session_deleted", "retention"),
    ("session_deleted", "force"),
    ("anchoring", "anchored"),
    ("anchoring", "failed"),
]


def test_nothing_is_counted_before_it_happens(harness: Harness) -> None:
    for event, label in [*LABELLED, ("chunk_ingested", ""), ("chunk_corrupt", "")]:
        assert harness.total(event, label) == 0, (event, label)


@pytest.mark.parametrize(("event", "label"), LABELLED)
def test_each_labelled_event_counts_once_under_its_label(
    harness: Harness, event: str, label: str
) -> None:
    getattr(harness.telemetry, event)(label)
    getattr(harness.telemetry, event)(label)
    assert harness.total(event, label) == 2
    others = [(e, lab) for e, lab in LABELLED if e == event and lab != label]
    for other_event, other_label in others:
        assert harness.total(other_event, other_label) == 0


def test_chunks_stages_and_cache_lookups(harness: Harness) -> None:
    t = harness.telemetry
    t.chunk_ingested(1000, 0.01)
    t.chunk_ingested(500, 0.02)
    t.chunk_downloaded(0.003)
    t.chunk_corrupt()
    t.stage_seconds("compression", 0.25)
    t.stage_seconds("compression", 0.5)
    t.cache_lookup(True)
    t.cache_lookup(True)
    t.cache_lookup(False)
    assert harness.total("chunk_ingested", "") == 2
    assert harness.total("chunk_downloaded", "") == 1
    assert harness.total("chunk_corrupt", "") == 1
    assert harness.total("stage_seconds", "compression") == pytest.approx(0.75)
    assert harness.total("cache_lookup", "hit") == 2
    assert harness.total("cache_lookup", "miss") == 1


def test_requests_count_by_method_route_and_status(harness: Harness) -> None:
    t = harness.telemetry
    t.request_served("GET", "/api/v1/sessions/{session_id}", 200, 0.004)
    t.request_served("GET", "/api/v1/sessions/{session_id}", 200, 0.002)
    t.request_served("GET", "/api/v1/sessions/{session_id}", 404, 0.001)
    t.request_served("PUT", "unmatched", 405, -0.1)  # a clock step backwards never raises
    assert harness.total("request_served", "GET /api/v1/sessions/{session_id} 200") == 2
    assert harness.total("request_served", "GET /api/v1/sessions/{session_id} 404") == 1
    assert harness.total("request_served", "PUT unmatched 405") == 1
    assert harness.total("request_served", "POST unmatched 405") == 0


def test_odd_values_never_raise_and_never_count_backwards(harness: Harness) -> None:
    t = harness.telemetry
    t.chunk_ingested(-5, -1.0)  # a clock step backwards, say
    t.stage_seconds("storage", -0.5)
    t.quota_refused("a reason added later")
    assert harness.total("stage_seconds", "storage") == 0
    assert harness.total("chunk_ingested", "") == 1


def test_figures_are_levels_not_sums(harness: Harness) -> None:
    for stored in (10, 7):
        harness.telemetry.figures(
            ServiceFigures(
                sessions_by_status={"recording": 2, "completed": stored},
                stored_bytes=stored,
                storage_free_bytes=123,
                log_size=4,
                log_anchored_size=3,
            )
        )
    assert harness.level("stored_bytes", "") == 7
    assert harness.level("sessions", "completed") == 7
    assert harness.level("sessions", "recording") == 2
    assert harness.level("storage_free_bytes", "") == 123
    assert harness.level("log_size", "") == 4
    assert harness.level("log_anchored_size", "") == 3
