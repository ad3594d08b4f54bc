"""Merkle proofs, the session manifest, the pipeline and per-session statistics."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from lucid_sessions.adapters.http.chunk_schemas import (
    ConsistencyResponse,
    OverallMetrics,
    PerformanceStats,
    PipelineResponse,
    ProofResponse,
    RecordingStats,
    StageResponse,
    StatisticsResponse,
    StorageStats,
    TimeRange,
)
from lucid_sessions.adapters.http.chunks import parse_chunk_id
from lucid_sessions.adapters.http.openapi import (
    CHUNK_ID_PATTERN,
    READ_ERRORS,
    WRITE_ERRORS,
    ChunkId,
    SessionId,
)
from lucid_sessions.app.usecases.integrity import Integrity
from lucid_sessions.app.usecases.pipeline import (
    INGEST_STAGES,
    STAGES,
    PipelineControl,
    PipelineView,
)
from lucid_sessions.domain.ports.chunks import StageFigures
from lucid_sessions.domain.principal import Principal

__all__ = ["IntegrityController", "PipelineController"]

# Documented, and validated by parse_chunk_id so that errors name "from" and "to" (Litestar
# would name the Python parameters).
_SIZE_DOC: dict[str, Any] = {"schema_extra": {"pattern": CHUNK_ID_PATTERN}}


class IntegrityController(Controller):
    path = "/api/v1/sessions/{session_id:str}"
    tags = ["integrity"]

    @get(
        "/chunks/{chunk_id:str}/proof",
        raises=READ_ERRORS,
        summary="RFC 9162 inclusion proof of a chunk",
    )
    async def inclusion_proof(
        self,
        session_id: SessionId,
        chunk_id: ChunkId,
        principal: NamedDependency[Principal],
        integrity: NamedDependency[Integrity],
        tree_size: Annotated[int | None, QueryParameter(ge=1)] = None,
    ) -> ProofResponse:
        proof = await integrity.inclusion(
            principal, session_id, parse_chunk_id(chunk_id), tree_size
        )
        return ProofResponse(
            sequence_number=proof.sequence_number,
            leaf_hash=proof.leaf_hash.hex(),
            tree_size=proof.tree_size,
            root=proof.root.hex(),
            audit_path=[h.hex() for h in proof.audit_path],
        )

    @get(
        "/consistency",
        raises=READ_ERRORS,
        summary="RFC 9162 consistency proof between two tree sizes",
    )
    async def consistency_proof(
        self,
        session_id: SessionId,
        principal: NamedDependency[Principal],
        integrity: NamedDependency[Integrity],
        first: Annotated[str, QueryParameter(name="from", **_SIZE_DOC, description="older size")],
        second: Annotated[
            str | None,
            QueryParameter(name="to", **_SIZE_DOC, description="newer size (default: now)"),
        ] = None,
    ) -> ConsistencyResponse:
        proof = await integrity.consistency(
            principal,
            session_id,
            parse_chunk_id(first, "from"),
            None if second is None else parse_chunk_id(second, "to"),
        )
        return ConsistencyResponse(
            first=proof.first,
            second=proof.second,
            from_root=proof.first_root.hex(),
            to_root=proof.second_root.hex(),
            proof=[h.hex() for h in proof.proof],
        )

    @get(
        "/manifest",
        raises=READ_ERRORS,
        summary="The session manifest (signed once the session is completed)",
    )
    async def manifest(
        self,
        session_id: SessionId,
        principal: NamedDependency[Principal],
        integrity: NamedDependency[Integrity],
    ) -> dict[str, Any]:
        return await integrity.manifest(principal, session_id)


def _pipeline_response(view: PipelineView) -> PipelineResponse:
    stages = []
    for name in STAGES:
        f = view.figures.get(name, StageFigures())
        stages.append(
            StageResponse(
                stage_name=name,
                status=view.stage_status(name),
                processed=f.processed,
                failed=f.failed,
                bytes_in=f.bytes_in,
                bytes_out=f.bytes_out,
                seconds=round(f.seconds, 6),
                last_error=f.last_error,
            )
        )
    compression = view.figures.get("compression", StageFigures())
    storage = view.figures.get("storage", StageFigures())
    busy = sum(view.figures.get(n, StageFigures()).seconds for n in INGEST_STAGES)
    return PipelineResponse(
        session_id=view.session.session_id,
        pipeline_status=view.pipeline_status,
        stages=stages,
        overall_metrics=OverallMetrics(
            chunks_processed=storage.processed,
            bytes_in=compression.bytes_in,
            bytes_out=storage.bytes_out,
            compression_ratio=(
                compression.bytes_in / compression.bytes_out if compression.bytes_out else None
            ),
            throughput_bytes_per_second=compression.bytes_in / busy if busy > 0 else None,
        ),
    )


class PipelineController(Controller):
    path = "/api/v1/sessions/{session_id:str}"
    tags = ["pipeline"]

    @get("/pipeline", raises=READ_ERRORS, summary="Pipeline status with measured figures per stage")
    async def pipeline(
        self,
        session_id: SessionId,
        principal: NamedDependency[Principal],
        pipeline_control: NamedDependency[PipelineControl],
    ) -> PipelineResponse:
        return _pipeline_response(await pipeline_control.status(principal, session_id))

    @post(
        "/pipeline/pause",
        status_code=200,
        raises=WRITE_ERRORS,
        summary="Hold ingest and finalization",
    )
    async def pause_pipeline(
        self,
        session_id: SessionId,
        principal: NamedDependency[Principal],
        pipeline_control: NamedDependency[PipelineControl],
    ) -> PipelineResponse:
        view = await pipeline_control.set_paused(principal, session_id, True)
        return _pipeline_response(view)

    @post(
        "/pipeline/resume",
        status_code=200,
        raises=WRITE_ERRORS,
        summary="Release ingest and finalization",
    )
    async def resume_pipeline(
        self,
        session_id: SessionId,
        principal: NamedDependency[Principal],
        pipeline_control: NamedDependency[PipelineControl],
    ) -> PipelineResponse:
        view = await pipeline_control.set_paused(principal, session_id, False)
        return _pipeline_response(view)

    @get(
        "/statistics",
        raises=READ_ERRORS,
        summary="Statistics of one session, computed from stored data",
    )
    async def statistics(
        self,
        session_id: SessionId,
        principal: NamedDependency[Principal],
        pipeline_control: NamedDependency[PipelineControl],
    ) -> StatisticsResponse:
        view = await pipeline_control.status(principal, session_id)
        s, now = view.session, view.as_of
        storage = view.figures.get("storage", StageFigures())
        busy = sum(view.figures.get(n, StageFigures()).seconds for n in INGEST_STAGES)
        return StatisticsResponse(
            session_id=s.session_id,
            time_range=TimeRange(started_at=s.started_at, stopped_at=s.stopped_at),
            recording_stats=RecordingStats(
                duration_seconds=round(s.duration_seconds_at(now), 3),
                paused_seconds=round(s.paused_seconds_at(now), 3),
                chunks_count=s.chunks_count,
                frame_count=s.frame_count,
            ),
            storage_stats=StorageStats(
                size_bytes=s.size_bytes,
                stored_bytes=s.stored_bytes,
                compression_ratio=s.compression_ratio,
            ),
            performance_stats=PerformanceStats(
                ingest_bytes_per_second=s.size_bytes / busy
                if busy > 0 and storage.processed
                else None,
                average_chunk_bytes=s.size_bytes / s.chunks_count if s.chunks_count else None,
            ),
        )
