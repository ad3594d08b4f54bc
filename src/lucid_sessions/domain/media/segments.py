"""Grouping fragments into HLS media segments."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lucid_sessions.domain.errors import InvalidValue
from lucid_sessions.domain.media.values import Fragment

__all__ = ["Segment", "segments"]


@dataclass(frozen=True, slots=True)
class Segment:
    """An HLS media segment: the byte range of `fragment_count` consecutive fragments
    (with any box between them), its start and summed duration in ticks of `timescale`."""

    offset: int
    length: int
    start: int
    duration: int
    timescale: int
    fragment_count: int
    starts_on_sync: bool

    @property
    def end(self) -> int:
        return self.offset + self.length

    @property
    def start_seconds(self) -> float:
        return self.start / self.timescale

    @property
    def duration_seconds(self) -> float:
        return self.duration / self.timescale


def segments(
    fragments: Iterable[Fragment], *, minimum_seconds: float = 2.0, maximum_seconds: float = 6.0
) -> list[Segment]:
    """Group fragments, in order, into segments that start on a sync sample and last about
    `minimum_seconds` to `maximum_seconds`.

    A fragment that does not start on a sync sample always joins the current segment (a
    segment must start where decoding can). A sync fragment starts a new segment when the
    current one already lasts `minimum_seconds`, or when joining it would pass
    `maximum_seconds`. A segment can still pass the maximum when a single fragment, or a run of
    non-sync ones, is that long. The last segment of a live recording may still grow: until
    the recording ends, only the segments before it are final.
    """
    if not 0 < minimum_seconds <= maximum_seconds:
        raise InvalidValue("minimum_seconds", "must be positive and at most maximum_seconds")
    groups: list[list[Fragment]] = []
    current: list[Fragment] = []
    duration = 0
    for fragment in fragments:
        if current and fragment.timescale != current[0].timescale:
            raise InvalidValue("fragments", "must share one timescale")
        if current and fragment.starts_on_sync:
            scale = fragment.timescale
            long_enough = duration >= minimum_seconds * scale
            too_long = duration + fragment.duration > maximum_seconds * scale
            if long_enough or too_long:
                groups.append(current)
                current, duration = [], 0
        current.append(fragment)
        duration += fragment.duration
    if current:
        groups.append(current)
    return [
        Segment(
            offset=group[0].offset,
            length=group[-1].end - group[0].offset,
            start=group[0].start,
            duration=sum(fragment.duration for fragment in group),
            timescale=group[0].timescale,
            fragment_count=len(group),
            starts_on_sync=group[0].starts_on_sync,
        )
        for group in groups
    ]
