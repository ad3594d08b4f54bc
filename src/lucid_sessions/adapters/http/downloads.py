"""Streaming downloads: conditional (ETag) and ranged, authenticated before the headers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from litestar import Request, Response
from litestar.response import Stream

from lucid_sessions.adapters.http.openapi import RangeNotSatisfiableException
from lucid_sessions.adapters.http.ranges import ByteRange, Unsatisfiable, etag_matches, parse_range
from lucid_sessions.app.usecases.read_chunks import ChunkReader
from lucid_sessions.domain.chunk import ChunkRecord

__all__ = ["OCTETS", "async_slices", "plan_recording", "recording_stream", "send_download"]

PIECE = 256 * 1024
OCTETS = "application/octet-stream"


def _slices(data: bytes, start: int, end: int) -> Iterator[bytes]:
    view = memoryview(data)
    for offset in range(start, end, PIECE):
        yield bytes(view[offset : min(offset + PIECE, end)])


async def async_slices(data: bytes, start: int, end: int) -> AsyncIterator[bytes]:
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


async def send_download(
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


def plan_recording(
    records: list[ChunkRecord], start: int, end: int
) -> list[tuple[ChunkRecord, int, int]]:
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


async def recording_stream(
    reader: ChunkReader, plan: list[tuple[ChunkRecord, int, int]], first: bytes
) -> AsyncIterator[bytes]:
    for index, (record, low, high) in enumerate(plan):
        data = first if index == 0 else await reader.open(record)
        first = b""
        for piece in _slices(data, low, high):
            yield piece
        del data
