"""The HLS media playlist of a recording, and the fragments of a clip of it.

`media_playlist` writes the RFC 8216 (version 7) media playlist of a fragmented MP4 served
by byte ranges: ``#EXT-X-MAP`` names the init segment, each media segment is a byte range of
whole fragments (`segments`). `clip_fragments` picks the fragments of a time range for a
standalone clip. Both are pure: the caller reads the fragments, the session's state and its
start time, and writes the answer.

Decisions (what the playlist promises and why):

- The two flags say different things. `ended`: the recording can no longer grow (the session
  is stopped), so every segment is final; the playlist lists them all and ends with
  ``#EXT-X-ENDLIST``. `live`: a player may have loaded this playlist while the recording could
  still grow, so its type is ``EVENT``, and stays ``EVENT`` after the end, because RFC 8216
  6.2.1 lets a server append segments and ``#EXT-X-ENDLIST`` to a playlist but not change its
  type. ``live=False`` (type ``VOD``) is for a recording that ended before anyone could play
  it; it requires ``ended=True``. A caller that cannot tell passes ``live=True``: ``EVENT`` with
  ``#EXT-X-ENDLIST`` is a complete recording to every player.
- A listed segment never changes (RFC 8216 6.2.1). While the recording grows its last
  segment may still take more fragments (see `segments`): a fragment that does not start on a
  sync sample joins it whatever its length, so even a segment that reached the maximum is not
  final. The last segment is therefore listed only once the recording ended; a live player
  sits one segment further from the edge, which it does anyway (it holds back three target
  durations).
- ``#EXT-X-TARGETDURATION`` must not change either (6.2.1), and every ``#EXTINF`` rounded to
  the nearest integer must be at most it (4.3.3.1). An ``EVENT`` playlist therefore uses
  `live_target_seconds` (the segments' maximum, 6 s) unless a listed segment is longer (a
  long fragment or a run of non-sync ones): then, and only then, it grows, to the ceiling of
  the longest. A ``VOD`` playlist uses the ceiling of its longest segment, at least 1.
- A segment is listed only when it starts on a sync sample (``#EXT-X-INDEPENDENT-SEGMENTS``
  holds); by construction of `segments` only a recording's first one may not, and it is left
  out. Every ``#EXT-X-BYTERANGE`` names its offset, so a left-out segment breaks nothing.
- ``#EXTINF`` durations have six decimals (exact to the microsecond, so that their sum drifts
  by less than a millisecond over a thousand segments). ``#EXT-X-PROGRAM-DATE-TIME`` is
  `started_at` (the wall clock of media time 0) plus the segment's start, rounded to the
  millisecond, in UTC with ``Z``; it is written only when `started_at` is known.
- `query` (e.g. ``access_token=...``) is repeated on the ``#EXT-X-MAP`` URI and on every
  segment URI, since a player resolves each one on its own. URIs and queries are checked to
  be printable ASCII without spaces, quotes or ``#``, so nothing can break a line or a tag.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from itertools import takewhile

from lucid_sessions.domain.errors import InvalidValue, RangeNotSatisfiable
from lucid_sessions.domain.media.segments import Segment
from lucid_sessions.domain.media.values import Fragment, InitSegment

__all__ = [
    "HLS_VERSION",
    "LIVE_TARGET_SECONDS",
    "PLAYLIST_MEDIA_TYPE",
    "RangeNotSatisfiable",
    "clip_fragments",
    "listed_segments",
    "media_playlist",
]

HLS_VERSION = 7
PLAYLIST_MEDIA_TYPE = "application/vnd.apple.mpegurl"
LIVE_TARGET_SECONDS = 6
"""The target duration of an ``EVENT`` playlist: `segments`' default maximum, 6 s."""

_URI = re.compile(r"[!$-~]+")  # printable ASCII but space, '"' and '#'
_QUERY = re.compile(r"[!$-~]*")


def listed_segments(segments: Sequence[Segment], *, ended: bool) -> list[Segment]:
    """The segments a playlist lists: those that start on a sync sample and are final (every
    one once the recording `ended`, else all but the last)."""
    final = segments if ended else segments[:-1]
    return [segment for segment in final if segment.starts_on_sync]


def media_playlist(
    init: InitSegment,
    segments: Sequence[Segment],
    *,
    live: bool,
    ended: bool,
    started_at: datetime | None,
    uri: str = "recording.mp4",
    query: str = "",
    live_target_seconds: int = LIVE_TARGET_SECONDS,
) -> str:
    """The media playlist of a recording whose init segment is `init` and whose fragments,
    grouped by `segments`, are `segments` (in order), every byte range over `uri`.

    `live`: a player may have loaded it while the recording could grow (type ``EVENT``);
    `ended`: the recording can no longer grow (every segment listed, ``#EXT-X-ENDLIST``).
    See the module's decisions. Raises `InvalidValue` for a VOD playlist that has not ended,
    a bad `uri` or `query`, a naive `started_at` or a target below 1.
    """
    if not live and not ended:
        raise InvalidValue("live", "a VOD playlist (live=False) is for an ended recording")
    if not _URI.fullmatch(uri):
        raise InvalidValue("uri", "must be printable ASCII without spaces, quotes or '#'")
    if not _QUERY.fullmatch(query):
        raise InvalidValue("query", "must be printable ASCII without spaces, quotes or '#'")
    if started_at is not None and started_at.utcoffset() is None:
        raise InvalidValue("started_at", "must carry a time zone")
    if live_target_seconds < 1:
        raise InvalidValue("live_target_seconds", "must be at least 1")
    target = f"{uri}?{query}" if query else uri
    listed = listed_segments(segments, ended=ended)
    longest = max((_ceil_seconds(segment) for segment in listed), default=1)
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{HLS_VERSION}",
        f"#EXT-X-TARGETDURATION:{max(longest, live_target_seconds if live else 1)}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        f"#EXT-X-PLAYLIST-TYPE:{'EVENT' if live else 'VOD'}",
        f'#EXT-X-MAP:URI="{target}",BYTERANGE="{init.length}@0"',
    ]
    origin = None if started_at is None else started_at.astimezone(UTC)
    for segment in listed:
        if origin is not None:
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_program_date_time(origin, segment)}")
        lines.append(f"#EXTINF:{_seconds(segment.duration, segment.timescale)},")
        lines.append(f"#EXT-X-BYTERANGE:{segment.length}@{segment.offset}")
        lines.append(target)
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _ceil_seconds(segment: Segment) -> int:
    return -(-segment.duration // segment.timescale)


def _seconds(ticks: int, timescale: int) -> str:
    """`ticks` of `timescale` in seconds, rounded to six decimals."""
    micros = (ticks * 1_000_000 + timescale // 2) // timescale
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _program_date_time(origin: datetime, segment: Segment) -> str:
    """`origin` (UTC) + the segment's start, to the millisecond, as ISO 8601 with a Z."""
    millis = (segment.start * 1000 + segment.timescale // 2) // segment.timescale
    moment = origin + timedelta(milliseconds=millis)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def clip_fragments(
    fragments: Sequence[Fragment], start_seconds: float | None, end_seconds: float | None
) -> list[Fragment]:
    """The fragments of a clip from `start_seconds` to `end_seconds` (media time; None: the
    recording's start or end), in order.

    The clip starts at the last fragment starting on a sync sample at or before the start
    (the first sync fragment when the start precedes it), so that it decodes from its first
    frame, and takes every fragment after it that starts before the end. Its bytes are the
    init segment, then ``fragments[0].offset`` to ``fragments[-1].end``.

    Raises `InvalidValue` for a negative or NaN bound, `RangeNotSatisfiable` when the range
    is empty (start at or after end) or selects nothing: it starts at or after the
    recording's end, or ends at or before its first sync fragment, or the recording has none.
    """
    start = _bound("start", start_seconds)
    end = _bound("end", end_seconds)
    if start is not None and end is not None and start >= end:
        raise RangeNotSatisfiable(f"the range {start_seconds}-{end_seconds} s is empty")
    syncs = [i for i, fragment in enumerate(fragments) if fragment.starts_on_sync]
    if not syncs:
        raise RangeNotSatisfiable("the recording has no fragment to start a clip on")
    last = fragments[-1]
    if start is not None and start * last.timescale >= last.start + last.duration:
        raise RangeNotSatisfiable(f"the recording ends before {start_seconds} s")
    first = syncs[0]
    if start is not None:
        first = max(
            (i for i in syncs if fragments[i].start <= start * fragments[i].timescale),
            default=first,
        )
    chosen = list(
        takewhile(
            lambda fragment: end is None or fragment.start < end * fragment.timescale,
            fragments[first:],
        )
    )
    if not chosen:
        raise RangeNotSatisfiable(f"the recording has nothing to play before {end_seconds} s")
    return chosen


def _bound(field: str, value: float | None) -> Fraction | None:
    """A bound as an exact number: the shortest decimal that spells the float (what a query
    string said: 0.1 is a tenth, not the binary fraction nearest to it), so that an end exactly
    at a fragment's start excludes it whatever the timescale."""
    if value is None:
        return None
    if math.isnan(value) or value < 0:
        raise InvalidValue(field, "must be a number of seconds, 0 or more")
    if math.isinf(value):
        return Fraction(2**63)  # beyond any recording
    return Fraction(repr(float(value)))
