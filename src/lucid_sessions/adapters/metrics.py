"""Prometheus metrics (prometheus_client), one registry per application instance."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

_BYTE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "lucid_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.http_duration = Histogram(
            "lucid_http_request_duration_seconds",
            "HTTP request duration",
            ["method", "route"],
            registry=r,
        )
        self.sessions = Gauge("lucid_sessions", "Sessions by status", ["status"], registry=r)
        self.chunks_ingested = Counter("lucid_chunks_ingested", "Chunks ingested", registry=r)
        self.bytes_ingested = Counter(
            "lucid_bytes_ingested", "Original chunk bytes ingested", registry=r
        )
        self.bytes_stored = Gauge("lucid_stored_bytes", "Stored (sealed) bytes", registry=r)
        self.ingest_duration = Histogram(
            "lucid_chunk_ingest_duration_seconds",
            "Chunk ingest duration",
            buckets=_BYTE_BUCKETS,
            registry=r,
        )
        self.download_duration = Histogram(
            "lucid_chunk_download_duration_seconds",
            "Chunk download duration",
            buckets=_BYTE_BUCKETS,
            registry=r,
        )
        self.stage_seconds = Counter(
            "lucid_pipeline_stage_seconds",
            "Seconds spent per pipeline stage",
            ["stage"],
            registry=r,
        )

    def set_sessions(self, by_status: dict[str, int], statuses: list[str]) -> None:
        for status in statuses:
            self.sessions.labels(status=status).set(by_status.get(status, 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
