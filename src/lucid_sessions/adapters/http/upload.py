"""Reading a chunk upload: the capped body, the chunk id and the optional headers."""

from __future__ import annotations

import re
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
from lucid_sessions.adapters.http.openapi import CHUNK_ID_PATTERN
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

_DECIMAL = re.compile(CHUNK_ID_PATTERN)


def parse_chunk_id(raw: str, field: str = "chunk_id") -> int:
    if not _DECIMAL.match(raw):
        raise InvalidValue(field, "must be a decimal sequence number (ASCII digits)")
    return int(raw)


def header_float(request: Request[Any, Any, Any], name: str) -> float | None:
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


def header_int(request: Request[Any, Any, Any], name: str) -> int | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    if not raw.strip().isdigit() or len(raw.strip()) > 12:
        raise InvalidValue(name, "must be a whole number of 0 or more")
    return int(raw)


def header_time(request: Request[Any, Any, Any], name: str) -> datetime | None:
    raw = request.headers.get(name)
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
        announced = (request.headers.get("content-length") or "").strip()
        self._size = int(announced) if announced.isdigit() else None
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
