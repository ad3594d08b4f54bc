"""HTTP byte ranges (RFC 9110 section 14): one range per request; several are ignored.

A position is read as ASCII digits of any length without building a number out of more than
`MAX_DIGITS` of them: a longer position is larger than any content, which is what it means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lucid_sessions.adapters.http.inputs import MAX_DIGITS

__all__ = ["ByteRange", "Unsatisfiable", "etag_matches", "parse_range"]

_SPEC = re.compile(r"[ \t]*bytes[ \t]*=[ \t]*([0-9]*)[ \t]*-[ \t]*([0-9]*)[ \t]*", re.IGNORECASE)
_BEYOND = 10**MAX_DIGITS
"""Stands for any position written with more than MAX_DIGITS digits (past every content)."""


class Unsatisfiable(Exception):
    """The Range cannot be served (416)."""


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, total: int) -> str:
        return f"bytes {self.start}-{self.end}/{total}"


def _position(digits: str) -> int:
    return _BEYOND if len(digits) > MAX_DIGITS else int(digits)


def parse_range(header: str | None, total: int) -> ByteRange | None:
    """None means "send everything": no header, a form we ignore (several ranges, another
    unit, not a range at all), or the suffix range of an empty content, which RFC 9110 counts
    as satisfiable but a 206 cannot express."""
    if not header or "," in header:
        return None
    match = _SPEC.fullmatch(header)
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if first == "" and last == "":
        return None
    if first == "":
        suffix = _position(last)
        if suffix == 0:
            raise Unsatisfiable
        if total == 0:
            return None
        return ByteRange(max(0, total - suffix), total - 1)
    start = _position(first)
    end = total - 1 if last == "" else min(_position(last), total - 1)
    if start >= total or (last != "" and _position(last) < start):
        raise Unsatisfiable
    return ByteRange(start, end)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    candidates = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return etag in candidates
