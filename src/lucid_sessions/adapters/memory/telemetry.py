"""RecordingTelemetry: the Telemetry port as plain counts, for tests to read back."""

from __future__ import annotations

from collections import Counter

from lucid_sessions.domain.ports.telemetry import ServiceFigures, Telemetry

__all__ = ["RecordingTelemetry"]


class RecordingTelemetry(Telemetry):
    """`counts[(event, label)]` counts events (label "" when the event has none);
    `seconds[(event, label)]` adds up their durations; `latest` holds the last figures."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.seconds: dict[tuple[str, str], float] = {}
        self.ingested_bytes = 0
        self.latest = ServiceFigures()

    def _count(self, event: str, label: str = "", seconds: float | None = None) -> None:
        self.counts[(event, label)] += 1
        if seconds is not None:
            key = (event, label)
            self.seconds[key] = self.seconds.get(key, 0.0) + max(0.0, seconds)

    def chunk_ingested(self, size_bytes: int, seconds: float) -> None:
        self._count("chunk_ingested", seconds=seconds)
        self.ingested_bytes += max(0, size_bytes)

    def chunk_downloaded(self, seconds: float) -> None:
        self._count("chunk_downloaded", seconds=seconds)

    def chunk_corrupt(self) -> None:
        self._count("chunk_corrupt")

    def quota_refused(self, reason: str) -> None:
        self._count("quota_refused", reason)

    def stage_seconds(self, stage: str, seconds: float) -> None:
        self._count("stage_seconds", stage, seconds)

    def finalized(self, outcome: str) -> None:
        self._count("finalized", outcome)

    def retention_swept(self, outcome: str) -> None:
        self._count("retention_swept", outcome)

    def session_deleted(self, reason: str) -> None:
        self._count("session_deleted", reason)

    def anchoring(self, outcome: str) -> None:
        self._count("anchoring", outcome)

    def cache_lookup(self, hit: bool) -> None:
        self._count("cache_lookup", "hit" if hit else "miss")

    def request_served(self, method: str, route: str, status: int, seconds: float) -> None:
        self._count("request_served", f"{method} {route} {status}", seconds)

    def figures(self, figures: ServiceFigures) -> None:
        self.latest = figures
