"""Instants of the domain: timezone-aware UTC, kept to the millisecond.

Every store keeps a millisecond exactly (a BSON date holds no more), so the domain never holds
a finer instant than it can get back.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["instant", "optional_instant"]


def instant(moment: datetime) -> datetime:
    """`moment` in UTC, truncated to the millisecond; it must carry a time zone."""
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)


def optional_instant(moment: datetime | None) -> datetime | None:
    return None if moment is None else instant(moment)
