"""The per-session pipeline (status, pause, resume) and per-session statistics."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency

from lucid_sessions.adapters.http.auth import current_principal
from lucid_sessions.adapters.http.chunk_schemas import (
    OverallMetrics,
    PerformanceStats,
    PipelineResponse,
    RecordingStats,
    StageResponse,
    StatisticsResponse,
    StorageStats,
    TimeRange,
)
from lucid_sessions.adapters.http.openapi import READ_ERRORS, WRITE_ERRORS, SessionId
from lucid_sessions.app.usecases.pipeline import ControlPipeline, PipelineView

__all__ = ["PipelineController"]


def _pipeline_response(view: PipelineView) -> PipelineResponse:
    stages = []
    for name in view.stages:
        f = view.figure(name)
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
    return PipelineResponse(
        session_id=view.session.session_id,
        pipeline_status=view.pipeline_status,
        stages=stages,
        overall_metrics=OverallMetrics(
            chunks_processed=view.figure("storage").processed,
            bytes_in=view.bytes_in,
            bytes_out=view.bytes_out,
            compression_ratio=view.compression_ratio,
            throughput_bytes_per_second=view.throughput_bytes_per_second,
        ),
    )


class PipelineController(Controller):
    path = "/api/v1/sessions/{session_id:str}"
    tags = ["pipeline"]

    @get("/pipeline", raises=READ_ERRORS, summary="Pipeline status with measured figures per stage")
    async def get_pipeline(
        self,
        session_id: SessionId,
        request: Request[Any, Any, Any],
        control_pipeline: NamedDependency[ControlPipeline],
    ) -> PipelineResponse:
        principal = current_principal(request)
        return _pipeline_response(await control_pipeline.status(principal, session_id))

    @post(
        "/pipeline/pause",
        status_code=200,
        raises=WRITE_ERRORS,
        summary="Hold ingest and finalization",
    )
    async def pause_pipeline(
        self,
        session_id: SessionId,
        request: Request[Any, Any, Any],
        control_pipeline: NamedDependency[ControlPipeline],
    ) -> PipelineResponse:
        principal = current_principal(request)
        view = await control_pipeline.set_paused(principal, session_id, True)
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
        request: Request[Any, Any, Any],
        control_pipeline: NamedDependency[ControlPipeline],
    ) -> PipelineResponse:
        principal = current_principal(request)
        view = await control_pipeline.set_paused(principal, session_id, False)
        return _pipeline_response(view)

    @get(
        "/statistics",
        raises=READ_ERRORS,
        summary="Statistics of one session, computed from stored data",
    )
    async def session_statistics(
        self,
        session_id: SessionId,
        request: Request[Any, Any, Any],
        control_pipeline: NamedDependency[ControlPipeline],
    ) -> StatisticsResponse:
        principal = current_principal(request)
        view = await control_pipeline.status(principal, session_id)
        s, now = view.session, view.as_of
        storage, busy = view.figure("storage"), view.ingest_seconds
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
