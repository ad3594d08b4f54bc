"""HTTP byte ranges (RFC 9110 section 14): one range per request; several are ignored."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ByteRange", "Unsatisfiable", "etag_matches", "parse_range"]

_SPEC = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


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


def parse_range(header: str | None, total: int) -> ByteRange | None:
    """None means "send everything" (no header, or a form we choose to ignore)."""
    if not header or "," in header:
        return None
    match = _SPEC.match(header)
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if first == "" and last == "":
        return None
    if first == "":
        suffix = int(last)
        if suffix == 0 or total == 0:
            raise Unsatisfiable
        return ByteRange(max(0, total - suffix), total - 1)
    start = int(first)
    end = total - 1 if last == "" else min(int(last), total - 1)
    if start >= total or (last != "" and int(last) < start):
        raise Unsatisfiable
    return ByteRange(start, end)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    candidates = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return etag in candidates
