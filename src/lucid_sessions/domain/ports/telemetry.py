"""Port: what the service reports about its own work, as it happens (metrics).

The application calls one method per event where the event happens; an adapter turns them
into counters, histograms and gauges (Prometheus in production, a recording fake in tests).
Every method is cheap, synchronous and never raises: reporting must never fail or slow the
work it reports on. Label values are bounded sets (the constants below), never ids.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = [
    "AnchoringOutcome",
    "FinalizationOutcome",
    "QuotaReason",
    "ServiceFigures",
    "Telemetry",
]


class QuotaReason:
    SESSION_QUOTA = "session_quota"  # storage_config.max_size_gb of the session
    FREE_SPACE = "free_space"  # the chunk store below its free-space floor
    ALL = (SESSION_QUOTA, FREE_SPACE)


class FinalizationOutcome:
    COMPLETED = "completed"
    FAILED = "failed"
    ALL = (COMPLETED, FAILED)


class AnchoringOutcome:
    ANCHORED = "anchored"
    FAILED = "failed"
    ALL = (ANCHORED, FAILED)


@dataclass(frozen=True, slots=True)
class ServiceFigures:
    """Levels read from the stores when the metrics are collected (every process sees the
    same ones, whichever did the work)."""

    sessions_by_status: Mapping[str, int] = field(default_factory=dict)
    stored_bytes: int = 0
    storage_free_bytes: int = 0
    log_size: int = 0
    log_anchored_size: int = 0


@runtime_checkable
class Telemetry(Protocol):
    """Runtime-checkable: the HTTP adapter receives it as a Litestar dependency, which is
    checked with `isinstance` before a handler runs."""

    @abc.abstractmethod
    def chunk_ingested(self, size_bytes: int, seconds: float) -> None:
        """A new chunk was stored and committed (`size_bytes` original bytes)."""

    @abc.abstractmethod
    def chunk_downloaded(self, seconds: float) -> None:
        """A chunk download was authenticated and handed out."""

    @abc.abstractmethod
    def chunk_corrupt(self) -> None:
        """A stored chunk failed authentication when read (tampered, truncated, missing)."""

    @abc.abstractmethod
    def quota_refused(self, reason: str) -> None:
        """A chunk was refused for lack of space; `reason` is one of QuotaReason."""

    @abc.abstractmethod
    def stage_seconds(self, stage: str, seconds: float) -> None:
        """Time spent in a pipeline stage (compression, encryption, merkle_building,
        storage, finalization)."""

    @abc.abstractmethod
    def finalized(self, outcome: str) -> None:
        """A finalization ended; `outcome` is one of FinalizationOutcome."""

    @abc.abstractmethod
    def retention_swept(self, outcome: str) -> None:
        """One session's outcome in a retention sweep (deleted, resumed, skipped...)."""

    @abc.abstractmethod
    def session_deleted(self, reason: str) -> None:
        """A deletion finished; `reason` is a DeletionReason value."""

    @abc.abstractmethod
    def anchoring(self, outcome: str) -> None:
        """An attempt to publish a tree head ended; `outcome` is one of AnchoringOutcome."""

    @abc.abstractmethod
    def cache_lookup(self, hit: bool) -> None:
        """A session read found the session in the cache (hit) or went to the store."""

    @abc.abstractmethod
    def request_served(self, method: str, route: str, status: int, seconds: float) -> None:
        """An HTTP request was answered; `route` is its route template (or "unmatched", so
        the labels stay bounded)."""

    @abc.abstractmethod
    def figures(self, figures: ServiceFigures) -> None:
        """The current levels, read from the stores."""
