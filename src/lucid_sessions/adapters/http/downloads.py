"""Downloads over HTTP: conditional (ETag) and ranged framing of a use case's `Content`."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.response import Stream

from lucid_sessions.adapters.http.errors import RangeNotSatisfiableException
from lucid_sessions.adapters.http.ranges import ByteRange, Unsatisfiable, etag_matches, parse_range
from lucid_sessions.app.usecases.read_chunks import Content

__all__ = ["OCTETS", "send_download"]

OCTETS = "application/octet-stream"


def _range_or_416(request: Request[Any, Any, Any], total: int) -> ByteRange | None:
    try:
        return parse_range(request.headers.get("range"), total)
    except Unsatisfiable:
        raise RangeNotSatisfiableException(
            detail=f"range not satisfiable; the content has {total} bytes",
            headers={"Content-Range": f"bytes */{total}"},
        ) from None


def _download_headers(content: Content, length: int) -> dict[str, str]:
    return {
        "ETag": content.etag,
        "Accept-Ranges": "bytes",
        "Content-Length": str(length),
        "Content-Disposition": f'attachment; filename="{content.filename}"',
        "Cache-Control": "private, no-transform",
    }


async def send_download(request: Request[Any, Any, Any], content: Content) -> Response[Any]:
    """304 on a matching If-None-Match, 416 on an unsatisfiable Range, else 200 or 206
    streaming the content (authenticated before the headers are sent)."""
    if etag_matches(request.headers.get("if-none-match"), content.etag):
        return Response(b"", status_code=304, headers={"ETag": content.etag})
    wanted = _range_or_416(request, content.size)
    start, end = (0, content.size) if wanted is None else (wanted.start, wanted.end + 1)
    stream = await content.read(start, end)
    headers = _download_headers(content, end - start)
    if wanted is None:
        return Stream(stream, media_type=OCTETS, headers=headers)
    headers["Content-Range"] = wanted.content_range(content.size)
    return Stream(stream, status_code=206, media_type=OCTETS, headers=headers)
