"""msgspec models of the chunk, integrity and pipeline responses."""

from __future__ import annotations

from datetime import datetime

import msgspec

from lucid_sessions.domain.chunk import ChunkRecord

__all__ = [
    "ChunkListResponse",
    "ChunkResponse",
    "ConsistencyResponse",
    "PipelineResponse",
    "ProcessingInfo",
    "ProofResponse",
    "StatisticsResponse",
    "chunk_response",
]


class ProcessingInfo(msgspec.Struct, kw_only=True):
    compression: str
    compression_ratio: float
    encryption_enabled: bool
    cipher: str | None


class ChunkResponse(msgspec.Struct, kw_only=True):
    chunk_id: str
    session_id: str
    sequence_number: int
    timestamp: datetime
    status: str
    size_bytes: int
    stored_size_bytes: int
    duration_seconds: float | None
    frame_count: int | None
    blake3: str
    merkle_hash: str
    processing_info: ProcessingInfo


class ChunkListResponse(msgspec.Struct, kw_only=True):
    chunks: list[ChunkResponse]
    total: int
    limit: int
    offset: int
    has_next: bool
    has_previous: bool


class ProofResponse(msgspec.Struct, kw_only=True):
    sequence_number: int
    leaf_hash: str
    tree_size: int
    root: str
    audit_path: list[str]


class ConsistencyResponse(msgspec.Struct, kw_only=True, rename={"first": "from", "second": "to"}):
    first: int
    second: int
    from_root: str
    to_root: str
    proof: list[str]


class StageResponse(msgspec.Struct, kw_only=True):
    stage_name: str
    status: str
    processed: int
    failed: int
    bytes_in: int
    bytes_out: int
    seconds: float
    last_error: str | None


class OverallMetrics(msgspec.Struct, kw_only=True):
    chunks_processed: int
    bytes_in: int
    bytes_out: int
    compression_ratio: float | None
    throughput_bytes_per_second: float | None


class PipelineResponse(msgspec.Struct, kw_only=True):
    session_id: str
    pipeline_status: str
    stages: list[StageResponse]
    overall_metrics: OverallMetrics


class TimeRange(msgspec.Struct, kw_only=True):
    started_at: datetime | None
    stopped_at: datetime | None


class RecordingStats(msgspec.Struct, kw_only=True):
    duration_seconds: float
    paused_seconds: float
    chunks_count: int
    frame_count: int


class StorageStats(msgspec.Struct, kw_only=True):
    size_bytes: int
    stored_bytes: int
    compression_ratio: float | None


class PerformanceStats(msgspec.Struct, kw_only=True):
    ingest_bytes_per_second: float | None
    average_chunk_bytes: float | None


class StatisticsResponse(msgspec.Struct, kw_only=True):
    session_id: str
    time_range: TimeRange
    recording_stats: RecordingStats
    storage_stats: StorageStats
    performance_stats: PerformanceStats


def chunk_response(record: ChunkRecord) -> ChunkResponse:
    return ChunkResponse(
        chunk_id=str(record.sequence_number),
        session_id=record.session_id,
        sequence_number=record.sequence_number,
        timestamp=record.timestamp,
        status="stored",
        size_bytes=record.size_bytes,
        stored_size_bytes=record.stored_size_bytes,
        duration_seconds=record.duration_seconds,
        frame_count=record.frame_count,
        blake3=record.blake3.hex(),
        merkle_hash=record.leaf_hash.hex(),
        processing_info=ProcessingInfo(
            compression=record.compression,
            compression_ratio=round(record.compression_ratio, 4),
            encryption_enabled=record.encrypted,
            cipher=record.cipher,
        ),
    )
