"""PrometheusTelemetry: the Telemetry port as Prometheus metrics (prometheus_client), one
registry per application instance, plus the HTTP request metrics of the HTTP adapter.

Route labels are Litestar's path templates without the parameter types
(`/api/v1/sessions/{session_id}/chunks/{chunk_id}`). Every labelled series of a known label
value is created at zero, so a dashboard sees
`lucid_quota_refusals_total{reason="free_space"} 0` before the first refusal, not nothing.
"""

from __future__ import annotations

import asyncio

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from lucid_sessions.domain.ports.telemetry import (
    AnchoringOutcome,
    FinalizationOutcome,
    QuotaReason,
    ServiceFigures,
    Telemetry,
)
from lucid_sessions.domain.session_log import DeletionReason

__all__ = ["CONTENT_TYPE_LATEST", "PrometheusTelemetry"]

_SECONDS_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STAGES = ("compression", "encryption", "merkle_building", "storage", "finalization")
RETENTION_OUTCOMES = ("deleted", "would_delete", "resumed", "skipped")


def _asyncio_tasks() -> float:
    """The tasks of the running event loop (the exposition is rendered on it); 0 elsewhere."""
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:  # no running loop in this thread
        return 0.0


class PrometheusTelemetry(Telemetry):
    def __init__(self, session_statuses: tuple[str, ...] = ()) -> None:
        # No `_created` series beside every counter and histogram: they double the series a
        # Raspberry Pi serves and no dashboard of ours reads them (process-wide setting).
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._statuses = session_statuses
        self._http_requests = Counter(
            "lucid_http_requests",
            "HTTP requests by route template ('unmatched': no route) and status",
            ["method", "route", "status"],
            registry=r,
        )
        self._http_duration = Histogram(
            "lucid_http_request_duration_seconds",
            "HTTP request duration, to the end of the response",
            ["method", "route"],
            registry=r,
        )
        self._sessions = Gauge("lucid_sessions", "Sessions by status", ["status"], registry=r)
        self._chunks = Counter("lucid_chunks_ingested", "New chunks stored", registry=r)
        self._bytes = Counter(
            "lucid_ingested_bytes", "Original bytes of the new chunks stored", registry=r
        )
        self._stored = Gauge(
            "lucid_stored_bytes", "Bytes stored (compressed, sealed) of every session", registry=r
        )
        self._free = Gauge(
            "lucid_storage_free_bytes", "Free bytes on the chunk store's file system", registry=r
        )
        self._ingest = Histogram(
            "lucid_chunk_ingest_duration_seconds",
            "Chunk ingest duration (hash, compress, encrypt, store, commit)",
            buckets=_SECONDS_BUCKETS,
            registry=r,
        )
        self._download = Histogram(
            "lucid_chunk_download_duration_seconds",
            "Chunk download duration until the authenticated bytes are handed out",
            buckets=_SECONDS_BUCKETS,
            registry=r,
        )
        self._corrupt = Counter(
            "lucid_chunks_corrupt", "Stored chunks that failed authentication when read", registry=r
        )
        self._quota = Counter(
            "lucid_quota_refusals", "Chunks refused for lack of space", ["reason"], registry=r
        )
        self._stages = Counter(
            "lucid_pipeline_stage_seconds",
            "Seconds spent per pipeline stage",
            ["stage"],
            registry=r,
        )
        self._finalized = Counter(
            "lucid_finalizations", "Finalizations by outcome", ["outcome"], registry=r
        )
        self._retention = Counter(
            "lucid_retention_sessions",
            "Sessions met by retention sweeps, by outcome",
            ["outcome"],
            registry=r,
        )
        self._deleted = Counter(
            "lucid_session_deletions",
            "Finished session deletions by reason",
            ["reason"],
            registry=r,
        )
        self._anchoring = Counter(
            "lucid_anchoring_attempts",
            "Attempts to publish a signed tree head, by outcome",
            ["outcome"],
            registry=r,
        )
        self._cache = Counter(
            "lucid_session_cache_lookups", "Session cache lookups by result", ["result"], registry=r
        )
        self._hit_ratio = Gauge(
            "lucid_session_cache_hit_ratio",
            "Share of session cache lookups that hit, in this process (0 before any)",
            registry=r,
        )
        self._log_size = Gauge(
            "lucid_session_log_size", "Entries in the service-wide session log", registry=r
        )
        self._anchored = Gauge(
            "lucid_session_log_anchored_size",
            "Size of the session log at its last anchored tree head",
            registry=r,
        )
        # The process as an operator watches it for leaks: resident memory, open file
        # descriptors and CPU (prometheus_client's `process_*` series, read from /proc), and
        # the asyncio tasks alive in the event loop when /metrics is read.
        ProcessCollector(registry=r)
        Gauge(
            "lucid_asyncio_tasks",
            "asyncio tasks alive in the server's event loop (requests, uploads, background jobs)",
            registry=r,
        ).set_function(_asyncio_tasks)
        self._hits = self._lookups = 0
        for status in session_statuses:
            self._sessions.labels(status=status)
        for counter, label, values in (
            (self._quota, "reason", QuotaReason.ALL),
            (self._stages, "stage", STAGES),
            (self._finalized, "outcome", FinalizationOutcome.ALL),
            (self._retention, "outcome", RETENTION_OUTCOMES),
            (self._deleted, "reason", tuple(reason.value for reason in DeletionReason)),
            (self._anchoring, "outcome", AnchoringOutcome.ALL),
            (self._cache, "result", ("hit", "miss")),
        ):
            for value in values:
                counter.labels(**{label: value})

    # -- the Telemetry port -------------------------------------------------------------------

    def chunk_ingested(self, size_bytes: int, seconds: float) -> None:
        self._chunks.inc()
        self._bytes.inc(max(0, size_bytes))
        self._ingest.observe(max(0.0, seconds))

    def chunk_downloaded(self, seconds: float) -> None:
        self._download.observe(max(0.0, seconds))

    def chunk_corrupt(self) -> None:
        self._corrupt.inc()

    def quota_refused(self, reason: str) -> None:
        self._quota.labels(reason=reason).inc()

    def stage_seconds(self, stage: str, seconds: float) -> None:
        self._stages.labels(stage=stage).inc(max(0.0, seconds))

    def finalized(self, outcome: str) -> None:
        self._finalized.labels(outcome=outcome).inc()

    def retention_swept(self, outcome: str) -> None:
        self._retention.labels(outcome=outcome).inc()

    def session_deleted(self, reason: str) -> None:
        self._deleted.labels(reason=reason).inc()

    def anchoring(self, outcome: str) -> None:
        self._anchoring.labels(outcome=outcome).inc()

    def cache_lookup(self, hit: bool) -> None:
        self._cache.labels(result="hit" if hit else "miss").inc()
        self._lookups += 1
        self._hits += hit
        self._hit_ratio.set(self._hits / self._lookups)

    def request_served(self, method: str, route: str, status: int, seconds: float) -> None:
        self._http_requests.labels(method=method, route=route, status=str(status)).inc()
        self._http_duration.labels(method=method, route=route).observe(max(0.0, seconds))

    def figures(self, figures: ServiceFigures) -> None:
        for status in {*self._statuses, *figures.sessions_by_status}:
            self._sessions.labels(status=status).set(figures.sessions_by_status.get(status, 0))
        self._stored.set(figures.stored_bytes)
        self._free.set(figures.storage_free_bytes)
        self._log_size.set(figures.log_size)
        self._anchored.set(figures.log_anchored_size)

    # -- exposition ---------------------------------------------------------------------------

    def render(self) -> bytes:
        return generate_latest(self.registry)
