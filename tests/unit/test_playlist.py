"""The HLS media playlist and the clip selection of ``lucid_sessions.domain.media.playlist``.

Synthetic fragments (exact ticks, chosen sync flags) pin the text and the rules; a real
recording from tests/media.py checks that the byte ranges tile the file and that a clip
decodes to the seconds it was asked for.
"""

from __future__ import annotations

import itertools
import math
import re
import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lucid_sessions.domain.errors import InvalidValue
from lucid_sessions.domain.media import (
    LIVE_TARGET_SECONDS,
    Fragment,
    InitSegment,
    MediaReader,
    RangeNotSatisfiable,
    Segment,
    Track,
    clip_fragments,
    media_playlist,
    segments,
)
from tests.media import colour_at, cut_unevenly, decoded_colours, fragmented_mp4, nearest_colour

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INIT = InitSegment(
    length=812,
    tracks=(Track(1, "vide", 1000, "avc1", "avc1.64001f"),),
    timing_track_id=1,
)
STARTED = datetime(2026, 1, 31, 12, 0, 0, 250_000, tzinfo=UTC)
SMALL = (160, 120)


def fragments_of(
    spec: Sequence[tuple[int, bool]], *, timescale: int = 1000, first_start: int = 0
) -> list[Fragment]:
    """Consecutive fragments of (duration in ticks, starts on sync), 1000 bytes each, after
    `INIT`."""
    result, start, offset = [], first_start, INIT.length
    for index, (duration, sync) in enumerate(spec):
        result.append(Fragment(index, offset, 1000, start, duration, timescale, sync))
        start += duration
        offset += 1000
    return result


# Two 2 s segments of a sync and a non-sync fragment, then a 0.5 s one.
SMALL_CASE = fragments_of([(1000, True), (1000, False), (1000, True), (1000, False), (500, True)])


def segment_lines(playlist: str) -> list[str]:
    """The lines after ``#EXT-X-MAP`` (the segments), without ``#EXT-X-ENDLIST``."""
    lines = playlist.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("#EXT-X-MAP:"))
    return [line for line in lines[at + 1 :] if line != "#EXT-X-ENDLIST"]


def header_lines(playlist: str) -> list[str]:
    lines = playlist.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("#EXT-X-MAP:"))
    return lines[: at + 1]


def target_of(playlist: str) -> int:
    match = re.search(r"^#EXT-X-TARGETDURATION:(\d+)$", playlist, re.MULTILINE)
    assert match is not None
    return int(match[1])


def durations_of(playlist: str) -> list[float]:
    return [float(m) for m in re.findall(r"^#EXTINF:([0-9.]+),$", playlist, re.MULTILINE)]


# --------------------------------------------------------------------------------------------
# The text
# --------------------------------------------------------------------------------------------


def test_an_ended_recording_first_served_after_its_end_is_vod() -> None:
    text = media_playlist(
        INIT,
        segments(SMALL_CASE),
        live=False,
        ended=True,
        started_at=STARTED,
        query="access_token=abc",
    )
    assert text == (
        "#EXTM3U\n"
        "#EXT-X-VERSION:7\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\n"
        '#EXT-X-MAP:URI="recording.mp4?access_token=abc",BYTERANGE="812@0"\n'
        "#EXT-X-PROGRAM-DATE-TIME:2026-01-31T12:00:00.250Z\n"
        "#EXTINF:2.000000,\n"
        "#EXT-X-BYTERANGE:2000@812\n"
        "recording.mp4?access_token=abc\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-01-31T12:00:02.250Z\n"
        "#EXTINF:2.000000,\n"
        "#EXT-X-BYTERANGE:2000@2812\n"
        "recording.mp4?access_token=abc\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-01-31T12:00:04.250Z\n"
        "#EXTINF:0.500000,\n"
        "#EXT-X-BYTERANGE:1000@4812\n"
        "recording.mp4?access_token=abc\n"
        "#EXT-X-ENDLIST\n"
    )


def test_a_growing_recording_is_an_event_without_its_last_segment() -> None:
    text = media_playlist(INIT, segments(SMALL_CASE), live=True, ended=False, started_at=None)
    assert text == (
        "#EXTM3U\n"
        "#EXT-X-VERSION:7\n"
        "#EXT-X-TARGETDURATION:6\n"
        "#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-PLAYLIST-TYPE:EVENT\n"
        '#EXT-X-MAP:URI="recording.mp4",BYTERANGE="812@0"\n'
        "#EXTINF:2.000000,\n"
        "#EXT-X-BYTERANGE:2000@812\n"
        "recording.mp4\n"
        "#EXTINF:2.000000,\n"
        "#EXT-X-BYTERANGE:2000@2812\n"
        "recording.mp4\n"
    )


def test_the_end_appends_the_last_segment_and_endlist_to_the_same_event() -> None:
    grouped = segments(SMALL_CASE)
    growing = media_playlist(INIT, grouped, live=True, ended=False, started_at=STARTED)
    ended = media_playlist(INIT, grouped, live=True, ended=True, started_at=STARTED)
    assert ended.startswith(growing)  # nothing listed changes, not even the type
    assert ended.removeprefix(growing) == (
        "#EXT-X-PROGRAM-DATE-TIME:2026-01-31T12:00:04.250Z\n"
        "#EXTINF:0.500000,\n"
        "#EXT-X-BYTERANGE:1000@4812\n"
        "recording.mp4\n"
        "#EXT-X-ENDLIST\n"
    )
    assert "#EXT-X-PLAYLIST-TYPE:EVENT\n" in ended
    vod = media_playlist(INIT, grouped, live=False, ended=True, started_at=STARTED)
    assert segment_lines(vod) == segment_lines(ended)
    assert "#EXT-X-PLAYLIST-TYPE:VOD\n" in vod
    assert vod.endswith("#EXT-X-ENDLIST\n")


def test_a_vod_playlist_is_for_an_ended_recording_only() -> None:
    with pytest.raises(InvalidValue, match="live"):
        media_playlist(INIT, segments(SMALL_CASE), live=False, ended=False, started_at=None)


def test_a_live_recording_without_a_final_segment_lists_none() -> None:
    for fragments in ([], SMALL_CASE[:1], SMALL_CASE[:2]):
        text = media_playlist(INIT, segments(fragments), live=True, ended=False, started_at=None)
        assert segment_lines(text) == []
        assert target_of(text) == LIVE_TARGET_SECONDS
        assert "#EXT-X-ENDLIST" not in text
    ended = media_playlist(INIT, [], live=True, ended=True, started_at=None)
    assert segment_lines(ended) == []
    assert ended.endswith("#EXT-X-ENDLIST\n")


def test_a_segment_at_the_maximum_is_still_not_final_while_live() -> None:
    """A non-sync fragment joins the last segment whatever its length: a 6 s segment (the
    maximum) grows to 7 s, so it is listed only when the next segment begins."""
    six = fragments_of([(6000, True)])
    seven = fragments_of([(6000, True), (1000, False)])
    assert segments(six)[0].duration == 6000
    assert segments(seven)[0].duration == 7000
    assert (
        segment_lines(media_playlist(INIT, segments(six), live=True, ended=False, started_at=None))
        == []
    )
    later = fragments_of([(6000, True), (1000, False), (2000, True)])
    text = media_playlist(INIT, segments(later), live=True, ended=False, started_at=None)
    assert durations_of(text) == [7.0]


def test_program_date_time_is_utc_to_the_millisecond() -> None:
    fragments = fragments_of([(30_000, True), (30_000, True), (30_000, True)], timescale=90_000)
    east = timezone(timedelta(hours=2))
    started = datetime(2026, 3, 1, 1, 59, 59, 900_000, tzinfo=east)
    grouped = segments(fragments, minimum_seconds=0.3)
    assert [segment.start for segment in grouped] == [0, 30_000, 60_000]
    text = media_playlist(INIT, grouped, live=False, ended=True, started_at=started)
    assert re.findall(r"^#EXT-X-PROGRAM-DATE-TIME:(.*)$", text, re.MULTILINE) == [
        "2026-02-28T23:59:59.900Z",
        "2026-03-01T00:00:00.233Z",  # 1/3 s rounds to 333 ms
        "2026-03-01T00:00:00.567Z",  # 2/3 s rounds to 667 ms
    ]
    assert durations_of(text) == [0.333333] * 3
    with pytest.raises(InvalidValue, match="started_at"):
        media_playlist(INIT, grouped, live=False, ended=True, started_at=datetime(2026, 1, 1))


def test_the_query_is_repeated_on_the_map_and_every_segment() -> None:
    token = "access_token=v1.c2Vzcy0x.AbC-_d"
    text = media_playlist(
        INIT, segments(SMALL_CASE), live=True, ended=True, started_at=None, query=token
    )
    uris = [line for line in text.splitlines() if not line.startswith("#")]
    assert uris == [f"recording.mp4?{token}"] * 3
    assert f'#EXT-X-MAP:URI="recording.mp4?{token}",BYTERANGE="812@0"' in text
    other = media_playlist(
        INIT, segments(SMALL_CASE), live=True, ended=True, started_at=None, uri="r.mp4"
    )
    assert [line for line in other.splitlines() if not line.startswith("#")] == ["r.mp4"] * 3


@pytest.mark.parametrize(
    ("uri", "query"),
    [
        ('a"b.mp4', ""),
        ("a b.mp4", ""),
        ("a.mp4\n#EXT-X-ENDLIST", ""),
        ("#a.mp4", ""),
        ("", ""),
        ("recording.mp4", 'access_token="x"'),
        ("recording.mp4", "a=b\nc"),
        ("recording.mp4", "a=b#c"),
        ("recording.mp4", "é=1"),
    ],
)
def test_uris_and_queries_that_could_break_a_line_or_a_tag_are_refused(
    uri: str, query: str
) -> None:
    with pytest.raises(InvalidValue):
        media_playlist(INIT, [], live=True, ended=False, started_at=None, uri=uri, query=query)


@pytest.mark.parametrize(
    ("durations", "live", "target"),
    [
        ([2000, 4200, 5500], False, 6),  # the ceiling of the longest
        ([5000, 3000], False, 5),  # exactly 5 s needs no more
        ([6400], False, 7),  # EXTINF 6.4 rounds to 6, but the ceiling is 7
        ([200], False, 1),  # at least 1
        ([2000, 2000], True, 6),  # an event keeps the live target...
        ([7200, 2000], True, 8),  # ...unless a segment is longer
    ],
)
def test_the_target_duration_bounds_every_segment(
    durations: list[int], live: bool, target: int
) -> None:
    fragments = fragments_of([(duration, True) for duration in durations])
    grouped = segments(fragments, minimum_seconds=0.1, maximum_seconds=10)
    assert len(grouped) == len(durations)
    text = media_playlist(INIT, grouped, live=live, ended=True, started_at=None)
    assert target_of(text) == target
    assert all(round(duration) <= target for duration in durations_of(text))
    assert all(math.ceil(duration) <= target for duration in durations_of(text))


def test_a_first_segment_that_does_not_start_on_a_sync_sample_is_left_out() -> None:
    fragments = fragments_of([(2000, False), (2000, True), (2000, True)])
    grouped = segments(fragments)
    assert [segment.starts_on_sync for segment in grouped] == [False, True, True]
    text = media_playlist(INIT, grouped, live=False, ended=True, started_at=None)
    assert re.findall(r"^#EXT-X-BYTERANGE:(.*)$", text, re.MULTILINE) == ["1000@1812", "1000@2812"]


# --------------------------------------------------------------------------------------------
# A listed segment never changes
# --------------------------------------------------------------------------------------------

fragment_specs = st.lists(
    st.tuples(st.integers(min_value=1, max_value=9000), st.booleans()), max_size=30
)


@PROPERTY
@given(spec=fragment_specs, started=st.booleans(), query=st.sampled_from(["", "access_token=t"]))
def test_a_growing_recording_only_ever_appends_to_its_playlist(
    spec: list[tuple[int, bool]], started: bool, query: str
) -> None:
    """Fed one more fragment at a time, every playlist's segment lines are a prefix of every
    later one's (the ended one's included), its header never changes but to fit a segment
    longer than the live target, and its segments are those of the finished recording."""
    fragments = fragments_of(spec)
    start = STARTED if started else None
    playlists = [
        media_playlist(
            INIT, segments(fragments[:n]), live=True, ended=False, started_at=start, query=query
        )
        for n in range(len(fragments) + 1)
    ]
    playlists.append(
        media_playlist(
            INIT, segments(fragments), live=True, ended=True, started_at=start, query=query
        )
    )
    for earlier, later in itertools.combinations(playlists, 2):
        before, after = segment_lines(earlier), segment_lines(later)
        assert after[: len(before)] == before
        assert target_of(earlier) <= target_of(later)
    final = [s for s in segments(fragments) if s.starts_on_sync]
    for text in playlists:
        listed = re.findall(r"^#EXT-X-BYTERANGE:(\d+)@(\d+)$", text, re.MULTILINE)
        expected = [(str(s.length), str(s.offset)) for s in final[: len(listed)]]
        assert listed == expected
        longest = max(durations_of(text), default=0.0)
        assert target_of(text) == max(LIVE_TARGET_SECONDS, math.ceil(longest))
        headers = header_lines(text)
        assert [h for h in headers if not h.startswith("#EXT-X-TARGETDURATION")] == [
            h for h in header_lines(playlists[0]) if not h.startswith("#EXT-X-TARGETDURATION")
        ]
    assert playlists[-1].endswith("#EXT-X-ENDLIST\n")
    assert all("#EXT-X-ENDLIST" not in text for text in playlists[:-1])


# --------------------------------------------------------------------------------------------
# A real recording
# --------------------------------------------------------------------------------------------


def top_level_kinds(data: bytes) -> list[str]:
    kinds, at = [], 0
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        kinds.append(kind.decode())
        at += size
    return kinds


def read_recording(data: bytes) -> tuple[InitSegment, list[Fragment]]:
    reader = MediaReader()
    fragments = reader.feed(data) + reader.finish()
    assert reader.failure is None
    assert reader.init is not None
    return reader.init, fragments


def test_the_byte_ranges_of_a_real_recording_tile_it() -> None:
    data = fragmented_mp4(9, fps=10, keyframe_seconds=1, size=SMALL, audio=True)
    init, fragments = read_recording(data)
    assert len(fragments) == 9
    text = media_playlist(init, segments(fragments), live=False, ended=True, started_at=STARTED)
    (map_range,) = re.findall(r'BYTERANGE="(\d+)@(\d+)"', text)
    ranges = [(int(offset), int(length)) for length, offset in [map_range]]
    ranges += [
        (int(offset), int(length))
        for length, offset in re.findall(r"^#EXT-X-BYTERANGE:(\d+)@(\d+)$", text, re.MULTILINE)
    ]
    assert len(ranges) == 1 + 5  # the init segment, four 2 s segments and the last second
    assert ranges[0][0] == 0
    for (offset, length), (next_offset, _) in itertools.pairwise(ranges):
        assert offset + length == next_offset
    end = ranges[-1][0] + ranges[-1][1]
    assert top_level_kinds(data[end:]) == ["mfra"]  # only the random-access index is left
    assert all(data[offset + 4 : offset + 8] == b"moof" for offset, _ in ranges[1:])
    total = sum(fragment.duration for fragment in fragments) / fragments[0].timescale
    assert sum(durations_of(text)) == pytest.approx(total, abs=1e-5)
    assert total == pytest.approx(9.0, abs=0.05)
    assert target_of(text) == math.ceil(max(durations_of(text)))  # 3: the first is 2.0066 s


def test_a_real_recording_read_as_it_arrives_only_appends() -> None:
    data = fragmented_mp4(9, fps=10, keyframe_seconds=1, size=SMALL)
    reader = MediaReader()
    fragments: list[Fragment] = []
    playlists = []
    for piece in cut_unevenly(data, seed=7):
        fragments += reader.feed(piece)
        if reader.init is not None:
            grouped = segments(fragments)
            playlists.append(
                media_playlist(reader.init, grouped, live=True, ended=False, started_at=STARTED)
            )
    fragments += reader.finish()
    assert reader.init is not None
    playlists.append(
        media_playlist(reader.init, segments(fragments), live=True, ended=True, started_at=STARTED)
    )
    for earlier, later in itertools.pairwise(playlists):
        assert later.startswith(earlier.removesuffix("#EXT-X-ENDLIST\n"))
    assert len(segment_lines(playlists[-1])) == 5 * 4


def test_a_clip_of_a_real_recording_decodes_to_the_seconds_asked_for() -> None:
    data = fragmented_mp4(8, fps=10, keyframe_seconds=2, size=SMALL)
    init, fragments = read_recording(data)
    chosen = clip_fragments(fragments, 3.5, 6.0)
    assert [round(fragment.start_seconds) for fragment in chosen] == [2, 4]
    clip = data[: init.length] + data[chosen[0].offset : chosen[-1].end]
    seconds = {int(time + 1e-6) for time, _ in decoded_colours(clip)}
    assert seconds == {2, 3, 4, 5}
    for time, rgb in decoded_colours(clip):
        assert nearest_colour(rgb) == colour_at(int(time + 1e-6))


# --------------------------------------------------------------------------------------------
# Clips
# --------------------------------------------------------------------------------------------

# Fragments of 1 s starting at 0, 1, 2, 3, 4; those at 0, 2 and 4 start on a sync sample.
CLIPPED = fragments_of([(1000, True), (1000, False), (1000, True), (1000, False), (1000, True)])


@pytest.mark.parametrize(
    ("start", "end", "indexes"),
    [
        (None, None, [0, 1, 2, 3, 4]),
        (1.5, None, [0, 1, 2, 3, 4]),  # inside a non-sync fragment: back to the sync before
        (2.0, None, [2, 3, 4]),  # a sync fragment starting exactly there
        (3.5, 4.0, [2, 3]),  # an end exactly at a fragment's start excludes it
        (0.0, 2.0, [0, 1]),
        (0.0, 2.001, [0, 1, 2]),
        (None, 1.0, [0]),
        (None, 0.001, [0]),
        (4.999, None, [4]),
        (0.5, math.inf, [0, 1, 2, 3, 4]),
    ],
)
def test_a_clip_starts_on_the_sync_fragment_at_or_before_its_start(
    start: float | None, end: float | None, indexes: list[int]
) -> None:
    assert [fragment.index for fragment in clip_fragments(CLIPPED, start, end)] == indexes


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (5.0, None),  # at the recording's end
        (6.0, 7.0),  # after it
        (math.inf, None),
        (None, 0.0),  # nothing starts before 0
        (2.0, 2.0),  # empty
        (3.0, 1.0),  # inverted
    ],
)
def test_a_range_outside_the_recording_is_not_satisfiable(
    start: float | None, end: float | None
) -> None:
    with pytest.raises(RangeNotSatisfiable):
        clip_fragments(CLIPPED, start, end)


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [(-1.0, None, "start"), (math.nan, None, "start"), (None, -0.5, "end"), (0.0, math.nan, "end")],
)
def test_negative_or_nan_bounds_are_invalid(
    start: float | None, end: float | None, field: str
) -> None:
    with pytest.raises(InvalidValue, match=field):
        clip_fragments(CLIPPED, start, end)


def test_an_end_exactly_at_a_fragment_start_excludes_it_at_any_timescale() -> None:
    """0.1 s is the 9000th tick of 90 kHz: 0.1 taken as a decimal, not as its binary float."""
    fragments = fragments_of([(9000, True), (9000, True), (9000, True)], timescale=90_000)
    assert [f.index for f in clip_fragments(fragments, None, 0.1)] == [0]
    assert [f.index for f in clip_fragments(fragments, 0.1, 0.2)] == [1]
    assert [f.index for f in clip_fragments(fragments, 0.3 - 0.1, None)] == [1, 2]  # 0.19999...


def test_recordings_a_clip_cannot_start_in() -> None:
    with pytest.raises(RangeNotSatisfiable):
        clip_fragments([], None, None)
    with pytest.raises(RangeNotSatisfiable):
        clip_fragments(fragments_of([(1000, False), (1000, False)]), None, None)


def test_a_start_before_the_first_sync_fragment_starts_there() -> None:
    late = fragments_of([(1000, True), (1000, True)], first_start=500)
    assert [f.index for f in clip_fragments(late, 0.2, None)] == [0, 1]
    with pytest.raises(RangeNotSatisfiable):
        clip_fragments(late, 0.0, 0.5)  # nothing starts before 0.5 s
    prelude = fragments_of([(1000, False), (1000, True), (1000, False)])
    assert [f.index for f in clip_fragments(prelude, 0.5, None)] == [1, 2]


@PROPERTY
@given(
    spec=fragment_specs,
    start=st.none() | st.floats(min_value=0, max_value=300),
    end=st.none() | st.floats(min_value=0, max_value=300),
)
def test_a_clip_is_a_run_that_decodes_and_covers_its_range(
    spec: list[tuple[int, bool]], start: float | None, end: float | None
) -> None:
    fragments = fragments_of(spec)
    try:
        chosen = clip_fragments(fragments, start, end)
    except RangeNotSatisfiable:
        return
    first, last = chosen[0], chosen[-1]
    assert first.starts_on_sync
    assert [f.index for f in chosen] == list(range(first.index, last.index + 1))
    if end is not None:
        assert all(f.start_seconds < end for f in chosen)
        following = fragments[last.index + 1 : last.index + 2]
        assert all(f.start_seconds >= end for f in following)
    else:
        assert last is fragments[-1]
    if start is not None:
        later_syncs = [f for f in fragments[first.index + 1 :] if f.starts_on_sync]
        assert all(f.start_seconds > start for f in later_syncs)
        if first.start_seconds > start:  # only when no sync fragment starts at or before it
            assert not any(f.starts_on_sync for f in fragments[: first.index])


def test_segments_of_a_clip_fit_a_vod_playlist() -> None:
    chosen = clip_fragments(CLIPPED, 1.0, 3.5)
    grouped: list[Segment] = segments(chosen)
    text = media_playlist(INIT, grouped, live=False, ended=True, started_at=None)
    assert durations_of(text) == [2.0, 2.0]
