"""Downloads over HTTP: conditional (ETag, If-Range) and ranged framing of a use case's
`Content`, in one place for chunks and recordings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response
from litestar.response import Stream

from lucid_sessions.adapters.http.errors import RangeNotSatisfiableException
from lucid_sessions.adapters.http.ranges import ByteRange, Unsatisfiable, etag_matches, parse_range
from lucid_sessions.adapters.http.semantics import is_head
from lucid_sessions.app.usecases.read_chunks import Content

__all__ = ["OCTETS", "etag", "filename", "send_download"]

OCTETS = "application/octet-stream"


def _range_or_416(request: Request[Any, Any, Any], total: int, etag: str) -> ByteRange | None:
    """The requested range, or None for the whole content: no `Range`, or an `If-Range`
    that does not name the current strong ETag (RFC 9110 13.1.5; a date never matches, as
    the content carries no Last-Modified)."""
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        return None
    try:
        return parse_range(request.headers.get("range"), total)
    except Unsatisfiable:
        raise RangeNotSatisfiableException(
            detail=f"range not satisfiable; the content has {total} bytes",
            headers={"Content-Range": f"bytes */{total}"},
        ) from None


def etag(content: Content) -> str:
    """The content's strong ETag: its version, quoted (RFC 9110 8.8.3)."""
    return f'"{content.version}"'


def filename(content: Content, extension: str = "bin") -> str:
    """What a browser saves the download as."""
    if content.sequence_number is None:
        return f"{content.session_id}.recording.{extension}"
    return f"{content.session_id}-{content.sequence_number:06d}.{extension}"


def _download_headers(
    content: Content, tag: str, length: int, disposition: str, extension: str
) -> dict[str, str]:
    return {
        "ETag": tag,
        "Accept-Ranges": "bytes",
        "Content-Length": str(length),
        "Content-Disposition": f'{disposition}; filename="{filename(content, extension)}"',
        "Cache-Control": "private, no-transform" if content.final else "no-store",
    }


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # an async generator that yields nothing


async def send_download(
    request: Request[Any, Any, Any],
    content: Content,
    *,
    media_type: str = OCTETS,
    disposition: str = "attachment",
    extension: str = "bin",
) -> Response[Any]:
    """304 on a matching If-None-Match, 416 on an unsatisfiable Range, else 200 or 206
    streaming the content (authenticated before the headers are sent). A HEAD gets the same
    status and headers; only the first piece is read, to authenticate it. `disposition`:
    "attachment" (save it) or "inline" (a player plays it)."""
    tag = etag(content)
    if etag_matches(request.headers.get("if-none-match"), tag):
        return Response(b"", status_code=304, headers={"ETag": tag})
    wanted = _range_or_416(request, content.size, tag)
    start, end = (0, content.size) if wanted is None else (wanted.start, wanted.end + 1)
    stream = await content.read(start, end)
    if is_head(request.scope):
        await stream.aclose()  # type: ignore[attr-defined]
        stream = _nothing()
    headers = _download_headers(content, tag, end - start, disposition, extension)
    if wanted is None:
        return Stream(stream, media_type=media_type, headers=headers)
    headers["Content-Range"] = wanted.content_range(content.size)
    return Stream(stream, status_code=206, media_type=media_type, headers=headers)
