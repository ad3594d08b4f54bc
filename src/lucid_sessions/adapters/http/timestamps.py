"""Timestamps in headers and query strings: RFC 3339 only (no epoch numbers, no other
formats), read as UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from litestar.params import QueryParameter

from lucid_sessions.domain.errors import InvalidValue

__all__ = ["QueryTime", "parse_timestamp", "query_time"]

_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})?$"
)

QueryTime = Annotated[
    str | None,
    QueryParameter(
        description="RFC 3339; without an offset it is read as UTC",
        schema_extra={"format": "date-time"},
    ),
]


def parse_timestamp(raw: str, field: str, *, offset_required: bool = True) -> datetime:
    """`raw` as a UTC datetime; InvalidValue naming `field` for anything but RFC 3339."""
    text = raw.strip()
    match = _RFC3339.match(text)
    if match is None or (offset_required and match.group("offset") is None):
        raise InvalidValue(field, "must be an RFC 3339 timestamp, e.g. 2026-01-31T12:00:00Z")
    fraction = match.group(1)
    if fraction and len(fraction) > 7:  # datetime keeps microseconds
        text = text.replace(fraction, fraction[:7])
    try:
        moment = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidValue(field, "is not a representable point in time") from None


def query_time(raw: str | None, field: str) -> datetime | None:
    """A query string's timestamp, where the offset may be left out (then it is UTC)."""
    return None if raw is None else parse_timestamp(raw, field, offset_required=False)
