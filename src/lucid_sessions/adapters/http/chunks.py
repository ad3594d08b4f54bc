"""Chunk upload, listing, details, download and the whole recording."""

from __future__ import annotations

import time
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, put
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec

from lucid_sessions.adapters.http.auth import current_principal
from lucid_sessions.adapters.http.chunk_schemas import (
    ChunkListResponse,
    ChunkResponse,
    chunk_response,
)
from lucid_sessions.adapters.http.downloads import OCTETS, send_download
from lucid_sessions.adapters.http.errors import UnsupportedMediaTypeException
from lucid_sessions.adapters.http.inputs import bounded_int, media_type
from lucid_sessions.adapters.http.openapi import (
    DOWNLOAD_ERRORS,
    READ_ERRORS,
    UPLOAD_ERRORS,
    ChunkId,
    Offset,
    SessionId,
    UploadChunkId,
    integer_query,
)
from lucid_sessions.adapters.http.timestamps import QueryTime, query_time
from lucid_sessions.adapters.http.upload import (
    RequestBody,
    UploadLimits,
    header_float,
    header_int,
    header_time,
    parse_chunk_id,
)
from lucid_sessions.app.usecases.common import MAX_OFFSET
from lucid_sessions.app.usecases.ingest_chunk import ChunkUpload, IngestChunk
from lucid_sessions.app.usecases.read_chunks import MAX_CHUNK_PAGE, ChunkFilter, ReadChunks
from lucid_sessions.domain.errors import InvalidValue
from lucid_sessions.domain.ports.telemetry import Telemetry

__all__ = ["ChunkController", "parse_chunk_id"]


STORED_BEFORE = {
    200: ResponseSpec(
        data_container=ChunkResponse,
        generate_examples=False,
        description="the chunk was stored before with these very bytes (a safe retry): "
        "the stored chunk, nothing written",
    )
}
PARTIAL_OR_NOT_MODIFIED = {
    206: ResponseSpec(
        data_container=bytes,
        media_type=OCTETS,
        generate_examples=False,
        description="the bytes of the `Range` asked for, with `Content-Range`",
    ),
    304: ResponseSpec(
        data_container=None,
        description="`If-None-Match` names the current `ETag`: nothing sent",
    ),
}


UPLOAD_HEADERS = {
    "declared_blake3": "X-Content-BLAKE3",
    "timestamp": "X-Chunk-Timestamp",
    "size": "Content-Length",
}
"""The header that carried each field of a `ChunkUpload`: errors name what the client sent."""


class ChunkController(Controller):
    path = "/api/v1/sessions/{session_id:str}"
    tags = ["chunks"]

    @put(
        "/chunks/{chunk_id:str}",
        status_code=201,
        request_max_body_size=None,  # the configured cap is enforced while streaming
        raises=UPLOAD_ERRORS,
        responses=STORED_BEFORE,
        summary="Upload one chunk (raw bytes); retries with identical bytes are safe",
    )
    async def upload_chunk(
        self,
        request: Request[Any, Any, Any],
        session_id: SessionId,
        chunk_id: UploadChunkId,
        ingest_chunk: NamedDependency[IngestChunk],
        upload_limits: NamedDependency[UploadLimits],
    ) -> Response[ChunkResponse]:
        principal = current_principal(request)
        if media_type(request.headers.get("content-type", "")) != OCTETS:
            raise UnsupportedMediaTypeException(detail=f"Content-Type must be {OCTETS}")
        sequence = parse_chunk_id(chunk_id, "sequence_number")
        upload = ChunkUpload(
            session_id=session_id,
            sequence_number=sequence,
            data=RequestBody(request, upload_limits),  # read by the use case, as it arrives
            declared_blake3=request.headers.get("x-content-blake3"),
            timestamp=header_time(request, "x-chunk-timestamp"),
            duration_seconds=header_float(request, "x-chunk-duration-seconds"),
            frame_count=header_int(request, "x-chunk-frame-count"),
        )
        try:
            result = await ingest_chunk(principal, upload)
        except InvalidValue as exc:
            header = UPLOAD_HEADERS.get(exc.field)
            if header is None:
                raise
            raise InvalidValue(header, exc.message) from None
        body = chunk_response(result.record)
        if not result.created:
            return Response(body, status_code=200)
        location = f"/api/v1/sessions/{session_id}/chunks/{sequence}"
        return Response(body, status_code=201, headers={"Location": location})

    @get("/chunks", raises=READ_ERRORS, summary="List a session's chunks in sequence order")
    async def list_chunks(
        self,
        session_id: SessionId,
        request: Request[Any, Any, Any],
        read_chunks: NamedDependency[ReadChunks],
        limit: Annotated[str | None, integer_query(1, MAX_CHUNK_PAGE, default=100)] = None,
        offset: Offset = None,
        start_time: QueryTime = None,
        end_time: QueryTime = None,
    ) -> ChunkListResponse:
        principal = current_principal(request)
        first = bounded_int(offset, "offset", 0, MAX_OFFSET, 0)
        wanted = ChunkFilter(
            bounded_int(limit, "limit", 1, MAX_CHUNK_PAGE, 100),
            first,
            query_time(start_time, "start_time"),
            query_time(end_time, "end_time"),
        )
        page = await read_chunks.list(principal, session_id, wanted)
        return ChunkListResponse(
            chunks=[chunk_response(r) for r in page.chunks],
            total=page.total,
            limit=wanted.limit,
            offset=first,
            has_next=first + len(page.chunks) < page.total,
            has_previous=first > 0,
        )

    @get("/chunks/{chunk_id:str}", raises=READ_ERRORS, summary="Chunk details")
    async def get_chunk(
        self,
        session_id: SessionId,
        chunk_id: ChunkId,
        request: Request[Any, Any, Any],
        read_chunks: NamedDependency[ReadChunks],
    ) -> ChunkResponse:
        principal = current_principal(request)
        record = await read_chunks.record(principal, session_id, parse_chunk_id(chunk_id))
        return chunk_response(record)

    @get(
        "/chunks/{chunk_id:str}/download",
        raises=DOWNLOAD_ERRORS,
        responses=PARTIAL_OR_NOT_MODIFIED,
        summary="The chunk's original bytes (authenticated, streamed, with Range)",
        media_type=OCTETS,
    )
    async def download_chunk(
        self,
        request: Request[Any, Any, Any],
        session_id: SessionId,
        chunk_id: ChunkId,
        read_chunks: NamedDependency[ReadChunks],
        telemetry: NamedDependency[Telemetry],
    ) -> Response[Any]:
        principal = current_principal(request)
        started = time.perf_counter()
        content = await read_chunks.chunk(principal, session_id, parse_chunk_id(chunk_id))
        response = await send_download(request, content)  # authenticated before the headers
        telemetry.chunk_downloaded(time.perf_counter() - started)
        return response

    @get(
        "/recording",
        raises=DOWNLOAD_ERRORS,
        responses=PARTIAL_OR_NOT_MODIFIED,
        summary="Every chunk's original bytes in order, streamed, with Range",
        media_type=OCTETS,
    )
    async def download_recording(
        self,
        request: Request[Any, Any, Any],
        session_id: SessionId,
        read_chunks: NamedDependency[ReadChunks],
    ) -> Response[Any]:
        principal = current_principal(request)
        return await send_download(request, await read_chunks.recording(principal, session_id))
