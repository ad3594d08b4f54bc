"""Instants of the domain: timezone-aware UTC, kept to the millisecond.

Every store keeps a millisecond exactly (a BSON date holds no more), so the domain never holds
a finer instant than it can get back.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from lucid_sessions.domain.errors import InvalidValue

__all__ = ["instant", "optional_instant", "parse_timestamp"]


def instant(moment: datetime) -> datetime:
    """`moment` in UTC, truncated to the millisecond; it must carry a time zone."""
    if moment.tzinfo is UTC and not moment.microsecond % 1000:
        return moment  # already one (every stored instant is): nothing to build
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)


def optional_instant(moment: datetime | None) -> datetime | None:
    return None if moment is None else instant(moment)


_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})?"
)


def parse_timestamp(raw: str, field: str, *, offset_required: bool = True) -> datetime:
    """`raw` as a UTC datetime; InvalidValue naming `field` for anything but RFC 3339."""
    text = raw.strip()
    match = _RFC3339.fullmatch(text)
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
