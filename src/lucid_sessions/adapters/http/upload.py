"""Reading a chunk upload: the capped body, the chunk id and the optional headers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import anyio
from litestar import Request
from litestar.exceptions import ClientException

from lucid_sessions.adapters.http.errors import (
    PayloadTooLargeException,
    RequestTimeoutException,
)
from lucid_sessions.adapters.http.inputs import decimal, decimal_fraction, header
from lucid_sessions.adapters.http.timestamps import parse_timestamp
from lucid_sessions.domain.errors import InvalidValue

__all__ = [
    "RequestBody",
    "UploadLimits",
    "header_float",
    "header_int",
    "header_time",
    "parse_chunk_id",
    "read_capped",
]

CHUNK_ID_DIGITS = 12
"""A sequence number has at most this many digits (the OpenAPI pattern says the same)."""

MAX_SECONDS = 1e9
"""The largest `X-Chunk-Duration-Seconds`."""


def parse_chunk_id(raw: str, field: str = "chunk_id") -> int:
    """A chunk's sequence number in a path or query: 1 to 12 ASCII digits, nothing else."""
    return decimal(raw, field, max_digits=CHUNK_ID_DIGITS)


def header_float(request: Request[Any, Any, Any], name: str) -> float | None:
    raw = header(request, name)
    if raw is None:
        return None
    value = decimal_fraction(raw, name)
    if value >= MAX_SECONDS:
        raise InvalidValue(name, f"must be less than {MAX_SECONDS:g}")
    return value


def header_int(request: Request[Any, Any, Any], name: str) -> int | None:
    raw = header(request, name)
    return None if raw is None else decimal(raw, name, max_digits=12)


def header_time(request: Request[Any, Any, Any], name: str) -> datetime | None:
    raw = header(request, name)
    return None if raw is None else parse_timestamp(raw, name)


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """How much a chunk upload may send (`max_bytes`), and how long it may go without sending
    a byte (`idle_seconds`); a whole upload may take at most `TOTAL_IDLE_PERIODS` idle
    periods, so a trickle of bytes cannot hold a connection for ever."""

    max_bytes: int
    idle_seconds: float


TOTAL_IDLE_PERIODS = 20


class RequestBody:
    """A chunk upload's body as it arrives (the `ChunkBody` of `IngestChunk`): refused with
    413 when `Content-Length` announces more than the cap (before a byte is read) or the
    stream passes it, with 408 when the client stalls for `idle_seconds` or the whole body
    takes more than `TOTAL_IDLE_PERIODS` of them. Nothing is stored for a refused body."""

    def __init__(self, request: Request[Any, Any, Any], limits: UploadLimits) -> None:
        self._receive, self._limits = request.receive, limits
        announced = header(request, "content-length")
        self._size = None if announced is None else decimal(announced, "Content-Length")
        if self._size is not None and self._size > limits.max_bytes:
            raise PayloadTooLargeException(detail=f"chunk larger than {limits.max_bytes} bytes")
        self._received = 0
        self._deadline: float | None = None
        self._done = False

    @property
    def size(self) -> int | None:
        return self._size

    def __aiter__(self) -> RequestBody:
        return self

    async def __anext__(self) -> bytes:
        limits = self._limits
        while not self._done:
            now = anyio.current_time()
            if self._deadline is None:
                self._deadline = now + limits.idle_seconds * TOTAL_IDLE_PERIODS
            with anyio.move_on_after(max(min(limits.idle_seconds, self._deadline - now), 0)):
                message = await self._receive()
                break
            raise RequestTimeoutException(
                detail=f"the upload stalled: no data for {limits.idle_seconds:g} s, or the "
                "whole body took too long; nothing was stored"
            )
        else:
            raise StopAsyncIteration
        if message["type"] == "http.disconnect":
            raise ClientException(detail="the client went away before the body was complete")
        self._done = not message.get("more_body", False)
        piece = cast(bytes, message.get("body", b""))
        self._received += len(piece)
        if self._received > limits.max_bytes:
            raise PayloadTooLargeException(detail=f"chunk larger than {limits.max_bytes} bytes")
        return piece


async def read_capped(request: Request[Any, Any, Any], limits: UploadLimits) -> bytes:
    """The whole body of `RequestBody` (413 past the cap, 408 when the client stalls)."""
    return b"".join([piece async for piece in RequestBody(request, limits)])
