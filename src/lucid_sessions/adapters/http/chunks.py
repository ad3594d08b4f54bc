"""Chunk upload, listing, details, download and the whole recording."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from litestar import Controller, Request, Response, get, put
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream

from lucid_sessions.adapters.http.chunk_schemas import (
    ChunkListResponse,
    ChunkResponse,
    chunk_response,
)
from lucid_sessions.adapters.http.mapping import as_utc
from lucid_sessions.adapters.http.openapi import (
    CHUNK_ID_PATTERN,
    DOWNLOAD_ERRORS,
    READ_ERRORS,
    UPLOAD_ERRORS,
    ChunkId,
    Offset,
    PayloadTooLargeException,
    RangeNotSatisfiableException,
    SessionId,
    UnsupportedMediaTypeException,
)
from lucid_sessions.adapters.http.ranges import ByteRange, Unsatisfiable, etag_matches, parse_range
from lucid_sessions.adapters.metrics import Metrics
from lucid_sessions.app.settings import Settings
from lucid_sessions.app.usecases.ingest_chunk import ChunkUpload, IngestChunk
from lucid_sessions.app.usecases.read_chunks import MAX_CHUNK_PAGE, ChunkReader
from lucid_sessions.domain.chunk import ChunkRecord
from lucid_sessions.domain.errors import InvalidValue
from lucid_sessions.domain.ports.chunks import ChunkQuery
from lucid_sessions.domain.principal import Principal

__all__ = ["ChunkController", "parse_chunk_id"]

PIECE = 256 * 1024
OCTETS = "application/octet-stream"
_log = structlog.get_logger("lucid_sessions.download")


_DECIMAL = re.compile(CHUNK_ID_PATTERN)
_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def parse_chunk_id(raw: str, field: str = "chunk_id") -> int:
    if not _DECIMAL.match(raw):
        raise InvalidValue(field, "must be a decimal sequence number (ASCII digits)")
    return int(raw)


def _header_float(request: Request[Any, Any, Any], name: str) -> float | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidValue(name, "must be a number") from None
    if not 0 <= value < 1e9:
        raise InvalidValue(name, "must be between 0 and 1e9")
    return value


def _header_int(request: Request[Any, Any, Any], name: str) -> int | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    if not raw.strip().isdigit() or len(raw.strip()) > 12:
        raise InvalidValue(name, "must be a whole number of 0 or more")
    return int(raw)


def _header_time(request: Request[Any, Any, Any], name: str) -> datetime | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    text = raw.strip()
    if not _RFC3339.match(text):
        raise InvalidValue(name, "must be an RFC 3339 timestamp, e.g. 2026-01-31T12:00:00Z")
    fraction = re.search(r"\.([0-9]+)", text)
    if fraction and len(fraction.group(1)) > 6:  # datetime keeps microseconds
        text = text.replace(fraction.group(0), fraction.group(0)[:7])
    try:
        return datetime.fromisoformat(text.upper().replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidValue(name, "is not a representable point in time") from None


async def _read_capped(request: Request[Any, Any, Any], cap: int) -> bytes:
    """The body, refused with 413 as soon as it passes `cap` (never buffered beyond it)."""
    announced = request.headers.get("content-length")
    if announced is not None and announced.isdigit() and int(announced) > cap:
        raise PayloadTooLargeException(detail=f"chunk larger than {cap} bytes")
    pieces: list[bytes] = []
    size = 0
    async for piece in request.stream():
        size += len(piece)
        if size > cap:
            raise PayloadTooLargeException(detail=f"chunk larger than {cap} bytes")
        pieces.append(piece)
    return b"".join(pieces)


def _slices(data: bytes, start: int, end: int) -> Iterator[bytes]:
    view = memoryview(data)
    for offset in range(start, end, PIECE):
        yield bytes(view[offset : min(offset + PIECE, end)])


async def _async_slices(data: bytes, start: int, end: int) -> AsyncIterator[bytes]:
    """An async iterator: Litestar would run each step of a plain one in a worker thread."""
    for piece in _slices(data, start, end):
        yield piece


def _range_or_416(request: Request[Any, Any, Any], total: int) -> ByteRange | None:
    try:
        return parse_range(request.headers.get("range"), total)
    except Unsatisfiable:
        raise RangeNotSatisfiableException(
            detail=f"range not satisfiable; the content has {total} bytes",
            headers={"Content-Range": f"bytes */{total}"},
        ) from None


def _download_headers(etag: str, length: int, filename: str) -> dict[str, str]:
    return {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Length": str(length),
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "private, no-transform",
    }


class ChunkController(Controller):
    path = "/api/v1/sessions/{session_id:str}"
    tags = ["chunks"]

    @put(
        "/chunks/{sequence_number:str}",
        status_code=201,
        request_max_body_size=None,  # the configured cap is enforced while streaming
        raises=UPLOAD_ERRORS,
        summary="Upload one chunk (raw bytes); retries with identical bytes are safe",
    )
    async def upload_chunk(
        self,
        request: Request[Any, Any, Any],
        session_id: SessionId,
        sequence_number: ChunkId,
        principal: NamedDependency[Principal],
        ingest_chunk: NamedDependency[IngestChunk],
        settings: NamedDependency[Settings],
        metrics: NamedDependency[Metrics],
    ) -> Response[ChunkResponse]:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != OCTETS:
            raise UnsupportedMediaTypeException(detail=f"Content-Type must be {OCTETS}")
        sequence = parse_chunk_id(sequence_number, "sequence_number")
        upload = ChunkUpload(
            session_id=session_id,
            sequence_number=sequence,
            data=await _read_capped(request, settings.max_chunk_bytes),
            declared_blake3=request.headers.get("x-content-blake3"),
            timestamp=_header_time(request, "x-chunk-timestamp"),
            duration_seconds=_header_float(request, "x-chunk-duration-seconds"),
            frame_count=_header_int(request, "x-chunk-frame-count"),
        )
        result = await ingest_chunk(principal, upload)
        if result.created:
            metrics.chunks_ingested.inc()
            metrics.bytes_ingested.inc(result.record.size_bytes)
            metrics.ingest_duration.observe(result.seconds)
        return Response(chunk_response(result.record), status_code=201 if result.created else 200)

    @get("/chunks", raises=READ_ERRORS, summary="List a session's chunks in sequence order")
    async def list_chunks(
        self,
        session_id: SessionId,
        principal: NamedDependency[Principal],
        chunk_reader: NamedDependency[ChunkReader],
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_CHUNK_PAGE)] = 100,
        offset: Offset = 0,
        start_time: FromQuery[datetime | None] = None,
        end_time: FromQuery[datetime | None] = None,
    ) -> ChunkListResponse:
        query = ChunkQuery(session_id, 0, limit, offset, as_utc(start_time), as_utc(end_time))
        page = await chunk_reader.list(principal, query)
        return ChunkListResponse(
            chunks=[chunk_response(r) for r in page.chunks],
            total=page.total,
            limit=limit,
            offset=offset,
            has_next=offset + len(page.chunks) < page.total,
            has_previous=offset > 0,
        )

    @get("/chunks/{chunk_id:str}", raises=READ_ERRORS, summary="Chunk details")
    async def get_chunk(
        self,
        session_id: SessionId,
        chunk_id: ChunkId,
        principal: NamedDependency[Principal],
        chunk_reader: NamedDependency[ChunkReader],
    ) -> ChunkResponse:
        record = await chunk_reader.record(principal, session_id, parse_chunk_id(chunk_id))
        return chunk_response(record)

    @get(
        "/chunks/{chunk_id:str}/download",
        raises=DOWNLOAD_ERRORS,
        summary="The chunk's original bytes (authenticated, streamed, with Range)",
        media_type=OCTETS,
    )
    async def download_chunk(
        self,
        request: Request[Any, Any, Any],
        session_id: SessionId,
        chunk_id: ChunkId,
        principal: NamedDependency[Principal],
        chunk_reader: NamedDependency[ChunkReader],
        metrics: NamedDependency[Metrics],
    ) -> Response[Any]:
        started = time.perf_counter()
        record = await chunk_reader.record(principal, session_id, parse_chunk_id(chunk_id))

        async def body(start: int, end: int) -> AsyncIterator[bytes]:
            data = await chunk_reader.open(record)  # authenticated before a byte is sent
            metrics.download_duration.observe(time.perf_counter() - started)
            return _async_slices(data, start, end)

        filename = f"{record.session_id}-{record.sequence_number:06d}.bin"
        etag = f'"{record.blake3.hex()}"'
        return await _send(request, etag, record.size_bytes, filename, body)

    @get(
        "/recording",
        raises=DOWNLOAD_ERRORS,
        summary="Every chunk's original bytes in order, streamed, with Range",
        media_type=OCTETS,
    )
    async def download_recording(
        self,
        request: Request[Any, Any, Any],
        session_id: SessionId,
        principal: NamedDependency[Principal],
        chunk_reader: NamedDependency[ChunkReader],
    ) -> Response[Any]:
        session = await chunk_reader.session(principal, session_id)

        async def body(start: int, end: int) -> AsyncIterator[bytes]:
            records = [r async for r in chunk_reader.all_committed(session)]
            plan = _plan(records, start, end)
            first = await chunk_reader.open(plan[0][0]) if plan else b""  # fail before headers
            return _recording_stream(chunk_reader, plan, first)

        root = session.merkle_root.hex() if session.merkle_root else "empty"
        etag = f'"{root}-{session.chunks_count}"'
        filename = f"{session.session_id}.recording.bin"
        return await _send(request, etag, session.size_bytes, filename, body)


async def _send(
    request: Request[Any, Any, Any],
    etag: str,
    total: int,
    filename: str,
    body: Callable[[int, int], Awaitable[AsyncIterator[bytes]]],
) -> Response[Any]:
    """Conditional and ranged download: 304 on a matching If-None-Match, 416 on an
    unsatisfiable Range, else 200 or 206 streaming `body(start, end)`."""
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(b"", status_code=304, headers={"ETag": etag})
    wanted = _range_or_416(request, total)
    start, end = (0, total) if wanted is None else (wanted.start, wanted.end + 1)
    stream = await body(start, end)
    headers = _download_headers(etag, end - start, filename)
    if wanted is None:
        return Stream(stream, media_type=OCTETS, headers=headers)
    headers["Content-Range"] = wanted.content_range(total)
    return Stream(stream, status_code=206, media_type=OCTETS, headers=headers)


def _plan(records: list[ChunkRecord], start: int, end: int) -> list[tuple[ChunkRecord, int, int]]:
    """(record, from, to) slices of each chunk that overlaps [start, end)."""
    plan = []
    offset = 0
    for record in records:
        low, high = offset, offset + record.size_bytes
        if high > start and low < end:
            plan.append((record, max(start, low) - low, min(end, high) - low))
        offset = high
        if offset >= end:
            break
    return plan


async def _recording_stream(
    reader: ChunkReader, plan: list[tuple[ChunkRecord, int, int]], first: bytes
) -> AsyncIterator[bytes]:
    for index, (record, low, high) in enumerate(plan):
        data = first if index == 0 else await reader.open(record)
        first = b""
        for piece in _slices(data, low, high):
            yield piece
        del data
