"""Timestamps in headers and query strings: RFC 3339 only (no epoch numbers, no other
formats), read as UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar.params import QueryParameter

from lucid_sessions.domain.instants import parse_timestamp

__all__ = ["QueryTime", "parse_timestamp", "query_time"]

QueryTime = Annotated[
    str | None,
    QueryParameter(
        description="RFC 3339; without an offset it is read as UTC",
        schema_extra={"format": "date-time"},
    ),
]


def query_time(raw: str | None, field: str) -> datetime | None:
    """A query string's timestamp, where the offset may be left out (then it is UTC)."""
    return None if raw is None else parse_timestamp(raw, field, offset_required=False)
