"""Reading a chunk upload: the capped body, the chunk id and the optional headers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from litestar import Request

from lucid_sessions.adapters.http.errors import (
    PayloadTooLargeException,
    RequestTimeoutException,
)
from lucid_sessions.adapters.http.openapi import CHUNK_ID_PATTERN
from lucid_sessions.adapters.http.timestamps import parse_timestamp
from lucid_sessions.domain.errors import InvalidValue

__all__ = [
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


async def read_capped(request: Request[Any, Any, Any], limits: UploadLimits) -> bytes:
    """The body, refused with 413 as soon as it passes the cap (never buffered beyond it),
    and with 408 when the client stalls. Nothing is stored for a refused body."""
    cap = limits.max_bytes
    announced = request.headers.get("content-length")
    if announced is not None and announced.isdigit() and int(announced) > cap:
        raise PayloadTooLargeException(detail=f"chunk larger than {cap} bytes")
    pieces: list[bytes] = []
    size = 0
    stream = request.stream().__aiter__()
    deadline = anyio.current_time() + limits.idle_seconds * TOTAL_IDLE_PERIODS
    while True:
        wait = min(limits.idle_seconds, deadline - anyio.current_time())
        with anyio.move_on_after(max(wait, 0)) as waited:
            try:
                piece = await stream.__anext__()
            except StopAsyncIteration:
                break
        if waited.cancelled_caught:
            raise RequestTimeoutException(
                detail=f"the upload stalled: no data for {limits.idle_seconds:g} s, or the "
                "whole body took too long; nothing was stored"
            )
        size += len(piece)
        if size > cap:
            raise PayloadTooLargeException(detail=f"chunk larger than {cap} bytes")
        pieces.append(piece)
    return b"".join(pieces)
