"""Tests of the streaming fragmented-MP4 reader in ``lucid_sessions.domain.media``.

Real recordings come from tests/media.py (PyAV, libx264, libopus). What the reader should find
in them is derived independently: box offsets by a plain walk of the top-level boxes here, the
codec from the avcC record PyAV hands out as the stream's extradata, timescales from PyAV's
time base. Synthetic recordings, built box by box below, cover what ffmpeg does not write
(64-bit sizes, version-1 boxes, sample-flag defaults, HEVC and AAC entries) and hostile input.
"""

from __future__ import annotations

import io
import itertools
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import av
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lucid_sessions.domain.errors import DomainError, InvalidValue
from lucid_sessions.domain.media import (
    MAX_BUFFERED_BYTES,
    MAX_MOOF_BYTES,
    MAX_MOOV_BYTES,
    Fragment,
    MediaReader,
    NotPlayable,
    segments,
)
from tests.media import (
    colour_at,
    cut_unevenly,
    decoded_colours,
    fragmented_mp4,
    nearest_colour,
    progressive_mp4,
)

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SMALL = (160, 120)
NON_SYNC = 0x00010000
SYNC = 0x02000000  # sample_depends_on = 2 (an I-frame), sync
PROFILE_IDC = {"Baseline": 66, "Constrained Baseline": 66, "Main": 77, "High": 100}


def short_recording() -> bytes:
    """The recording the property tests cut and damage: 5 s, a fragment every second."""
    return fragmented_mp4(5, fps=10, keyframe_seconds=1, size=SMALL)


# --------------------------------------------------------------------------------------------
# An independent view of a recording: its top-level boxes, walked plainly.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopBox:
    kind: str
    offset: int
    size: int

    @property
    def end(self) -> int:
        return self.offset + self.size


def top_level(data: bytes) -> list[TopBox]:
    boxes, at = [], 0
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if size == 1:
            size = struct.unpack(">Q", data[at + 8 : at + 16])[0]
        elif size == 0:
            size = len(data) - at
        boxes.append(TopBox(kind.decode(), at, size))
        at += size
    return boxes


def expected_ranges(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of every moof through the end of the mdat after it."""
    boxes = top_level(data)
    return [
        (box.offset, following.end - box.offset)
        for box, following in itertools.pairwise(boxes)
        if box.kind == "moof" and following.kind == "mdat"
    ]


def read(pieces: Iterable[bytes], *, resume_each: bool = False) -> MediaReader:
    reader = MediaReader()
    for piece in pieces:
        reader.feed(piece)
        if resume_each:
            reader = MediaReader.resume(reader.state())
    return reader


@dataclass(frozen=True)
class Outcome:
    fragments: tuple[Fragment, ...]
    failure: tuple[str, int] | None
    init: object


def outcome(pieces: Iterable[bytes], *, resume_each: bool = False, finish: bool = True) -> Outcome:
    reader = MediaReader()
    fragments: list[Fragment] = []
    for piece in pieces:
        fragments += reader.feed(piece)
        assert reader.buffered_bytes <= MAX_BUFFERED_BYTES
        if resume_each:
            reader = MediaReader.resume(reader.state())
    if finish:
        fragments += reader.finish()
    failure = None if reader.failure is None else (reader.failure.reason, reader.failure.offset)
    return Outcome(tuple(fragments), failure, reader.init)


# --------------------------------------------------------------------------------------------
# Real recordings
# --------------------------------------------------------------------------------------------


def test_generated_recording_decodes_to_its_colours() -> None:
    data = fragmented_mp4(4, fps=10, size=SMALL)
    frames = decoded_colours(data)
    assert len(frames) == 40
    for time, rgb in frames:
        assert nearest_colour(rgb) == colour_at(int(time + 1e-6))
        assert max(abs(a - b) for a, b in zip(rgb, colour_at(int(time + 1e-6)), strict=True)) < 40


def test_generated_audio_recording_decodes() -> None:
    data = fragmented_mp4(2, fps=10, size=SMALL, audio=True)
    with av.open(io.BytesIO(data), "r") as container:
        assert [stream.type for stream in container.streams] == ["video", "audio"]
        audio = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(audio))
    assert samples >= 2 * 48_000 - 960


def test_cut_unevenly_keeps_every_byte_and_splits_headers() -> None:
    data = short_recording()
    pieces = cut_unevenly(data, 7)
    assert b"".join(pieces) == data
    assert pieces == cut_unevenly(data, 7)
    assert min(map(len, pieces)) < 8 < max(map(len, pieces))


@pytest.mark.parametrize(
    ("seconds", "fps", "keyframe_seconds", "size"),
    [(7, 30, 2, (320, 240)), (5, 10, 1, SMALL), (6, 25, 3, SMALL)],
)
def test_a_real_recording_is_indexed_exactly(
    seconds: int, fps: int, keyframe_seconds: int, size: tuple[int, int]
) -> None:
    data = fragmented_mp4(seconds, fps=fps, keyframe_seconds=keyframe_seconds, size=size)
    reader = MediaReader()
    fragments = reader.feed(data)
    assert reader.finish() == []
    assert reader.failure is None
    boxes = top_level(data)
    first_moof = next(box.offset for box in boxes if box.kind == "moof")
    assert reader.init is not None
    assert reader.init.length == first_moof
    assert [(f.offset, f.length) for f in fragments] == expected_ranges(data)
    assert [f.index for f in fragments] == list(range(len(fragments)))
    # init + fragments + the trailing mfra are the whole file
    trailing = sum(box.size for box in boxes if box.kind == "mfra")
    assert reader.init.length + sum(f.length for f in fragments) + trailing == len(data)
    with av.open(io.BytesIO(data), "r") as container:
        time_base = container.streams.video[0].time_base
    assert time_base is not None
    assert time_base.numerator == 1
    timescale = time_base.denominator
    step = keyframe_seconds * timescale
    assert all(f.timescale == timescale for f in fragments)
    assert [f.start for f in fragments] == [i * step for i in range(len(fragments))]
    expected_durations = [step] * (seconds // keyframe_seconds)
    if seconds % keyframe_seconds:
        expected_durations.append(seconds % keyframe_seconds * timescale)
    assert [f.duration for f in fragments] == expected_durations
    assert all(f.starts_on_sync for f in fragments)
    assert fragments[1].start_seconds == keyframe_seconds
    assert fragments[0].duration_seconds == keyframe_seconds


def test_the_codec_is_the_one_in_the_avcc_record() -> None:
    data = fragmented_mp4(2, fps=10, size=SMALL)
    reader = read([data])
    with av.open(io.BytesIO(data), "r") as container:
        context = container.streams.video[0].codec_context
        avcc = bytes(context.extradata or b"")
        profile, level = context.profile, context.level
    assert avcc[0] == 1  # an AVCDecoderConfigurationRecord
    assert reader.init is not None
    assert reader.init.codecs == (f"avc1.{avcc[1:4].hex()}",)
    # what PyAV decodes of the stream agrees: profile_idc and level_idc
    assert profile is not None
    assert PROFILE_IDC[profile] == avcc[1]
    assert level == avcc[3]
    # libx264 "ultrafast" writes Constrained Baseline: constraint_set1_flag (0x40) is set
    assert reader.init.codecs == (f"avc1.42{avcc[2]:02x}{level:02x}",)
    assert avcc[2] & 0x40
    (track,) = reader.init.tracks
    assert (track.handler, track.sample_entry, track.track_id) == ("vide", "avc1", 1)


def test_an_audio_recording_lists_both_codecs_and_keeps_video_times() -> None:
    data = fragmented_mp4(5, fps=10, keyframe_seconds=1, size=SMALL, audio=True)
    reader = MediaReader()
    fragments = reader.feed(data) + reader.finish()
    assert reader.failure is None
    assert reader.init is not None
    with av.open(io.BytesIO(data), "r") as container:
        avcc = bytes(container.streams.video[0].codec_context.extradata or b"")
        assert container.streams.audio[0].codec_context.name == "opus"
    assert reader.init.codecs == (f"avc1.{avcc[1:4].hex()}", "opus")
    assert [track.handler for track in reader.init.tracks] == ["vide", "soun"]
    assert reader.init.tracks[1].timescale == 48_000
    assert reader.init.timing_track.handler == "vide"
    assert [(f.offset, f.length) for f in fragments] == expected_ranges(data)
    timescale = reader.init.timing_track.timescale
    assert all(f.timescale == timescale for f in fragments)
    assert fragments[0].start == 0
    for before, after in itertools.pairwise(fragments):
        assert after.start == before.start + before.duration  # contiguous video times
    frame = timescale // 10
    for index, fragment in enumerate(fragments):
        # ffmpeg stretches the first video sample a little to line up with the Opus pre-skip
        assert abs(fragment.start - index * timescale) < frame
    assert abs(sum(f.duration for f in fragments) - 5 * timescale) < frame
    assert all(f.starts_on_sync for f in fragments)


def test_a_progressive_mp4_is_not_playable() -> None:
    data = progressive_mp4(2, fps=10, size=SMALL)
    reader = MediaReader()
    assert reader.feed(data) == []
    assert reader.failure is not None
    moov = next(box for box in top_level(data) if box.kind == "moov")
    assert reader.failure.offset == moov.offset
    assert "not a fragmented MP4" in reader.failure.reason
    assert "mvex" in reader.failure.reason
    assert isinstance(reader.failure, DomainError)
    assert reader.finish() == []


@pytest.mark.parametrize(
    "data",
    [
        b"hello, world\n" * 100,
        b"\x89PNG\r\n\x1a\n" + bytes(100),
        bytes(64),
        b"\xff" * 64,
        struct.pack(">I4s", 24, b"moov") + bytes(16),
        struct.pack(">I4s", 0x7FFFFFFF, b"ftyp"),
    ],
)
def test_bytes_that_are_not_mp4_are_not_playable(data: bytes) -> None:
    reader = MediaReader()
    assert reader.feed(data) == []
    assert reader.failure is not None
    assert reader.failure.offset == 0
    assert "not a fragmented MP4 recording" in reader.failure.reason
    assert reader.buffered_bytes == 0


def test_an_empty_recording_is_not_playable() -> None:
    reader = MediaReader()
    assert reader.finish() == []
    assert reader.failure is not None
    assert "before its first fragment" in reader.failure.reason


def test_a_truncated_recording_keeps_its_complete_fragments() -> None:
    data = short_recording()
    whole = outcome([data]).fragments
    cut = whole[2].end + 100
    reader = MediaReader()
    fragments = reader.feed(data[:cut])
    assert reader.failure is None
    assert tuple(fragments) == whole[:3]
    assert reader.finish() == []
    assert reader.failure is not None
    assert reader.failure.offset == whole[3].offset
    assert "ends inside" in reader.failure.reason


def test_a_fragment_is_reported_as_soon_as_its_mdat_is_complete() -> None:
    data = short_recording()
    whole = outcome([data]).fragments
    reader = MediaReader()
    assert reader.feed(data[: whole[0].end - 1]) == []
    assert reader.feed(data[whole[0].end - 1 : whole[0].end]) == [whole[0]]


def test_garbage_after_valid_fragments_stops_the_reader_and_keeps_them() -> None:
    data = short_recording()
    end = outcome([data]).fragments[-1].end
    reader = MediaReader()
    fragments = reader.feed(data[:end] + b"\x00\x01garbage" * 10)
    assert len(fragments) == 5
    assert reader.failure is not None
    assert reader.failure.offset == end
    assert reader.feed(data) == []  # stopped: later bytes are ignored


# --------------------------------------------------------------------------------------------
# Synthetic recordings, box by box
# --------------------------------------------------------------------------------------------


def u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def box(kind: str, payload: bytes = b"", *, large: bool = False) -> bytes:
    if large:
        return u32(1) + kind.encode("latin-1") + u64(16 + len(payload)) + payload
    return u32(8 + len(payload)) + kind.encode("latin-1") + payload


def full_box(kind: str, version: int, flags: int, payload: bytes = b"") -> bytes:
    return box(kind, bytes([version]) + flags.to_bytes(3, "big") + payload)


FTYP = box("ftyp", b"iso5" + u32(512) + b"iso5iso6mp41")
AVC_ENTRY = box("avc1", bytes(78) + box("avcC", bytes([1, 0x64, 0x00, 0x1F, 0xFF, 0xE0, 0])))


def hevc_entry(kind: str, config: bytes) -> bytes:
    return box(kind, bytes(78) + box("hvcC", config + bytes(10)))


def descriptor(tag: int, payload: bytes, *, long_size: bool = False) -> bytes:
    if long_size:  # ffmpeg writes sizes on four bytes: 0x80 0x80 0x80 n
        return bytes([tag, 0x80, 0x80, 0x80, len(payload)]) + payload
    return bytes([tag, len(payload)]) + payload


def esds(
    audio_specific_config: bytes, *, object_type: int = 0x40, long_size: bool = False
) -> bytes:
    specific = descriptor(5, audio_specific_config, long_size=long_size)
    config = descriptor(4, bytes([object_type, 0x15]) + bytes(11) + specific, long_size=long_size)
    es = descriptor(3, u32(1)[2:] + b"\x00" + config + descriptor(6, b"\x02"), long_size=long_size)
    return full_box("esds", 0, 0, es)


def mp4a_entry(extension: bytes) -> bytes:
    fields = bytes(6) + b"\x00\x01" + bytes(8) + b"\x00\x02\x00\x10" + bytes(4) + u32(48000 << 16)
    return box("mp4a", fields + extension)


def trak(
    track_id: int,
    handler: str = "vide",
    timescale: int = 90_000,
    entry: bytes = AVC_ENTRY,
    *,
    version: int = 0,
    extra: bytes = b"",
) -> bytes:
    if version == 1:
        tkhd = full_box("tkhd", 1, 3, u64(0) + u64(0) + u32(track_id) + bytes(80))
        mdhd = full_box("mdhd", 1, 0, u64(0) + u64(0) + u32(timescale) + u64(0) + bytes(4))
    else:
        tkhd = full_box("tkhd", 0, 3, u32(0) + u32(0) + u32(track_id) + bytes(68))
        mdhd = full_box("mdhd", 0, 0, u32(0) + u32(0) + u32(timescale) + u32(0) + bytes(4))
    hdlr = full_box("hdlr", 0, 0, u32(0) + handler.encode() + bytes(12) + b"handler\x00")
    stsd = full_box("stsd", 0, 0, u32(1) + entry)
    stbl = box("stbl", stsd + full_box("stts", 0, 0, u32(0)))
    return box("trak", tkhd + box("mdia", mdhd + hdlr + box("minf", stbl)) + extra)


def trex(track_id: int, duration: int = 0, size: int = 0, flags: int = 0) -> bytes:
    return full_box("trex", 0, 0, u32(track_id) + u32(1) + u32(duration) + u32(size) + u32(flags))


def init(
    *traks: bytes, trexes: Sequence[bytes] | None = None, mvex: bool = True, extra: bytes = b""
) -> bytes:
    if not traks:
        traks = (trak(1),)
    if trexes is None:
        trexes = [trex(1)]
    mvhd = full_box("mvhd", 0, 0, bytes(96))
    extension = box("mvex", b"".join(trexes)) if mvex else b""
    return FTYP + box("moov", mvhd + b"".join(traks) + extension + extra)


def traf(
    track_id: int = 1,
    *,
    base_time: int | None = 0,
    tfdt_version: int = 1,
    default_duration: int | None = None,
    default_flags: int | None = None,
    durations: Sequence[int] | None = None,
    sample_count: int | None = None,
    first_flags: int | None = None,
    sample_flags: Sequence[int] | None = None,
) -> bytes:
    tfhd_flags = 0x020000  # default-base-is-moof
    tfhd = u32(track_id)
    if default_duration is not None:
        tfhd_flags |= 0x08
        tfhd += u32(default_duration)
    if default_flags is not None:
        tfhd_flags |= 0x20
        tfhd += u32(default_flags)
    payload = full_box("tfhd", 0, tfhd_flags, tfhd)
    if base_time is not None:
        width = u64 if tfdt_version == 1 else u32
        payload += full_box("tfdt", tfdt_version, 0, width(base_time))
    count = sample_count
    if count is None:
        count = len(durations or sample_flags or [0])
    trun_flags = 0x001
    trun = u32(count) + u32(0)  # data_offset: not checked by the reader
    if first_flags is not None:
        trun_flags |= 0x004
        trun += u32(first_flags)
    if durations is not None:
        trun_flags |= 0x100
    if sample_flags is not None:
        trun_flags |= 0x400
    for index in range(count if durations is not None or sample_flags is not None else 0):
        if durations is not None:
            trun += u32(durations[index])
        if sample_flags is not None:
            trun += u32(sample_flags[index])
    payload += full_box("trun", 0, trun_flags, trun)
    return box("traf", payload)


def fragment(
    *trafs: bytes, media: bytes = b"\x00" * 32, large: bool = False, extra: bytes = b""
) -> bytes:
    payload = full_box("mfhd", 0, 0, u32(1)) + b"".join(trafs or [traf()]) + extra
    moof = box("moof", payload, large=large)
    return moof + box("mdat", media, large=large)


def read_all(data: bytes) -> tuple[MediaReader, list[Fragment]]:
    reader = MediaReader()
    fragments = reader.feed(data)
    fragments += reader.finish()
    return reader, fragments


def test_largesize_boxes_are_read() -> None:
    head = init()
    frames = [
        fragment(traf(base_time=i * 3000, durations=[1000] * 3), large=True) for i in range(3)
    ]
    data = head + b"".join(frames)
    reader, fragments = read_all(data)
    assert reader.failure is None
    assert [(f.offset, f.length) for f in fragments] == expected_ranges(data)
    assert [(f.start, f.duration) for f in fragments] == [(0, 3000), (3000, 3000), (6000, 3000)]


def test_a_real_recording_rewritten_with_64_bit_sizes_reads_the_same() -> None:
    data = short_recording()
    rewritten = b"".join(
        u32(1) + data[b.offset + 4 : b.offset + 8] + u64(b.size + 8) + data[b.offset + 8 : b.end]
        for b in top_level(data)
    )
    original = outcome([data]).fragments
    reader, fragments = read_all(rewritten)
    assert reader.failure is None
    assert [(f.offset, f.length) for f in fragments] == expected_ranges(rewritten)
    assert [(f.start, f.duration) for f in fragments] == [(f.start, f.duration) for f in original]


def test_an_mdat_to_the_end_of_the_file_is_reported_at_the_end() -> None:
    last = fragment(traf(base_time=10, durations=[20]))
    moof_length = int.from_bytes(last[:4], "big")
    data = (
        init() + fragment(traf(durations=[10])) + last[:moof_length] + u32(0) + b"mdat" + bytes(99)
    )
    reader = MediaReader()
    fragments = reader.feed(data)
    assert len(fragments) == 1
    (final,) = reader.finish()
    assert reader.failure is None
    assert (final.start, final.duration, final.end) == (10, 20, len(data))


def test_a_size_zero_box_that_is_not_a_fragment_mdat_is_not_playable() -> None:
    reader, fragments = read_all(init() + fragment() + u32(0) + b"free" + bytes(10))
    assert len(fragments) == 1
    assert reader.failure is not None
    assert "end of the file" in reader.failure.reason


def test_uuid_and_skippable_boxes_are_skipped() -> None:
    uuid = box("uuid", bytes(range(16)) + b"payload")
    between = uuid + box("free", b"x") + box("styp", b"msdh" + u32(0)) + box("sidx", bytes(20))
    first = fragment(traf(durations=[5]))
    moof_length = int.from_bytes(first[:4], "big")
    first = first[:moof_length] + box("free") + first[moof_length:]  # free between moof and mdat
    data = init() + uuid + first + between + fragment(traf(base_time=5, durations=[5]))
    data += box("mfra", full_box("mfro", 0, 0, u32(16)))
    reader, fragments = read_all(data)
    assert reader.failure is None
    assert reader.init is not None
    assert reader.init.length == len(init()) + len(uuid)
    assert [(f.offset, f.length) for f in fragments] == [
        (reader.init.length, len(first)),
        (reader.init.length + len(first) + len(between), len(fragment(traf(durations=[5])))),
    ]


def test_version_1_boxes_and_defaults_give_times_and_sync() -> None:
    head = init(trak(7, timescale=1000, version=1), trexes=[trex(7, 40, 0, NON_SYNC)])
    data = head + b"".join(
        [
            # durations from trex, first sample flags in the trun: sync
            fragment(traf(7, base_time=2**40, sample_count=3, first_flags=SYNC)),
            # durations from tfhd, flags from tfhd: not sync
            fragment(traf(7, base_time=2**40 + 120, default_duration=50, default_flags=NON_SYNC)),
            # per-sample durations and flags, 32-bit tfdt: the first sample's flags decide
            fragment(
                traf(
                    7,
                    base_time=1000,
                    tfdt_version=0,
                    durations=[10, 20],
                    sample_flags=[SYNC, NON_SYNC],
                )
            ),
            # no flags anywhere but trex's: not sync; no tfdt: starts where the last one ended
            fragment(traf(7, base_time=None, sample_count=2)),
        ]
    )
    reader, fragments = read_all(data)
    assert reader.failure is None
    assert [(f.start, f.duration, f.starts_on_sync) for f in fragments] == [
        (2**40, 120, True),
        (2**40 + 120, 50, False),
        (1000, 30, True),
        (1030, 80, False),
    ]
    assert {f.timescale for f in fragments} == {1000}


def test_fragments_take_the_video_track_times_even_when_audio_comes_first() -> None:
    head = init(
        trak(1, "soun", 48_000, mp4a_entry(b"")),
        trak(2, "vide", 90_000),
        trexes=[trex(1), trex(2)],
    )
    data = head + fragment(
        traf(1, base_time=0, durations=[960, 960]),
        traf(2, base_time=900, durations=[3000], sample_flags=[NON_SYNC]),
    )
    reader, fragments = read_all(data)
    assert reader.init is not None
    assert reader.init.timing_track_id == 2
    assert reader.init.codecs == ("mp4a.40.2", "avc1.64001f")
    assert [(f.start, f.duration, f.timescale, f.starts_on_sync) for f in fragments] == [
        (900, 3000, 90_000, False)
    ]


def test_an_audio_only_recording_is_always_sync() -> None:
    head = init(trak(1, "soun", 48_000, box("Opus", bytes(28))))
    reader, fragments = read_all(head + fragment(traf(durations=[960], first_flags=NON_SYNC)))
    assert reader.init is not None
    assert reader.init.codecs == ("opus",)
    assert [(f.duration, f.starts_on_sync) for f in fragments] == [(960, True)]


def test_a_moof_without_the_timing_track_starts_where_the_last_ended() -> None:
    head = init(trak(1), trak(2, "soun", 48_000, box("Opus", bytes(28))), trexes=[])
    data = head + fragment(traf(1, durations=[100], sample_flags=[SYNC])) + fragment(traf(2))
    reader, fragments = read_all(data)
    assert reader.failure is None
    assert [(f.start, f.duration, f.starts_on_sync) for f in fragments] == [
        (0, 100, True),
        (100, 0, False),
    ]


HEVC_MAIN = bytes([1, 0x01]) + u32(0x60000000) + bytes([0xB0, 0, 0, 0, 0, 0]) + bytes([93])
HEVC_SPACE = bytes([1, 0x64]) + u32(0x82000000) + bytes([0xB0, 0x23, 0, 0, 0, 0]) + bytes([120])
HEVC_PLAIN = bytes([1, 0x02]) + u32(0x20000000) + bytes(6) + bytes([120])


@pytest.mark.parametrize(
    ("entry", "codec"),
    [
        (AVC_ENTRY, "avc1.64001f"),
        (box("avc3", bytes(78) + box("avcC", bytes([1, 0x4D, 0x40, 0x1E]))), "avc3.4d401e"),
        (hevc_entry("hvc1", HEVC_MAIN), "hvc1.1.6.L93.B0"),
        (hevc_entry("hev1", HEVC_SPACE), "hev1.A4.41.H120.B0.23"),
        (hevc_entry("hvc1", HEVC_PLAIN), "hvc1.2.4.L120"),
        (box("Opus", bytes(28)), "opus"),
        (mp4a_entry(esds(bytes([0x12, 0x10]))), "mp4a.40.2"),
        (mp4a_entry(esds(bytes([0x2B, 0x92]), long_size=True)), "mp4a.40.5"),
        (mp4a_entry(esds(bytes([0xF9, 0x40, 0x00]))), "mp4a.40.42"),
        (mp4a_entry(esds(b"", object_type=0x6B)), "mp4a.6b"),
        (mp4a_entry(full_box("esds", 0, 0, b"\x03\xff")), "mp4a.40.2"),
        (mp4a_entry(b""), "mp4a.40.2"),
        (box("vp09", bytes(78)), None),
        (box("avc1", bytes(78)), None),
    ],
)
def test_codec_strings(entry: bytes, codec: str | None) -> None:
    reader, _ = read_all(init(trak(1, entry=entry)) + fragment())
    assert reader.failure is None
    assert reader.init is not None
    assert reader.init.tracks[0].codec == codec
    assert reader.init.codecs == (() if codec is None else (codec,))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (init(mvex=False) + fragment(), "no mvex"),
        (init() + box("mdat", bytes(10)), "mdat before any moof"),
        (FTYP + fragment(), "moof before moov"),
        (init() + init()[len(FTYP) :], "a second moov"),
        (init() + fragment() + box("mdat", bytes(4)), "mdat without its moof"),
        (init() + fragment() + box("abcd", bytes(4)), "unexpected 'abcd' box"),
        (init() + fragment()[:-40] + box("moof"), "where a fragment's mdat was expected"),
        (init() + u32(4) + b"free", "shorter than its header"),
        (init() + u32(1) + b"free" + u64(15), "shorter than its header"),
        (FTYP + box("moov", box("trak", box("tkhd", b"\x00")) + box("mvex")), "tkhd is truncated"),
        (FTYP + box("moov", box("mvex") + u32(100) + b"trak"), "does not fit in moov"),
        (init(trak(1, timescale=0)) + fragment(), "timescale of 0"),
        (init(trak(1), trak(1)) + fragment(), "same track id"),
        (init() + box("moof", full_box("mfhd", 0, 0, u32(1)) + box("traf")), "traf without tfhd"),
        (
            init()
            + box(
                "moof",
                box(
                    "traf", full_box("tfhd", 0, 0, u32(1)) + full_box("trun", 0, 0x100, u32(10**6))
                ),
            ),
            "does not fit its box",
        ),
    ],
)
def test_malformed_recordings_stop_with_a_reason(data: bytes, reason: str) -> None:
    reader, _ = read_all(data)
    assert reader.failure is not None
    assert reason in reader.failure.reason
    assert 0 <= reader.failure.offset <= len(data)


def test_a_second_mdat_stops_the_reader_after_the_fragment() -> None:
    data = init() + fragment() + box("mdat", bytes(8))
    reader, fragments = read_all(data)
    assert len(fragments) == 1
    assert reader.failure is not None
    assert reader.failure.offset == fragments[0].end


def test_boxes_too_large_to_buffer_stop_the_reader_at_their_header() -> None:
    for head, header in (
        (FTYP, u32(MAX_MOOV_BYTES + 1) + b"moov"),
        (FTYP, u32(1) + b"moov" + u64(2**62)),
        (init(), u32(MAX_MOOF_BYTES + 1) + b"moof"),
        (init() + fragment(), u32(1) + b"moof" + u64(2**64 - 1)),
    ):
        reader = MediaReader()
        reader.feed(head + header)
        assert reader.failure is not None
        assert reader.failure.offset == len(head)
        assert "at most" in reader.failure.reason
        assert reader.buffered_bytes == 0


def test_a_giant_mdat_is_counted_through_not_buffered() -> None:
    size = 64 * 1024 * 1024
    moof = fragment()[: -len(box("mdat", b"\x00" * 32))]
    reader = MediaReader()
    reader.feed(init() + moof + u32(size + 8) + b"mdat")
    piece = bytes(1024 * 1024)
    for _ in range(size // len(piece) - 1):
        assert reader.feed(piece) == []
        assert reader.buffered_bytes == 0
    (done,) = reader.feed(piece)
    assert done.length == len(moof) + size + 8


def test_endless_nesting_does_not_recurse() -> None:
    nested = b"leaf"
    for _ in range(20_000):
        nested = box("trak", nested)
    reader, _ = read_all(FTYP + box("moov", nested + box("mvex", trex(1))))
    assert reader.failure is not None
    assert "trak without tkhd" in reader.failure.reason
    nested = b""
    for _ in range(20_000):
        nested = box("traf", nested)
    reader, fragments = read_all(init() + box("moof", nested) + box("mdat"))
    assert reader.failure is not None
    assert fragments == []


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


def test_state_is_small_between_fragments_and_resumes_exactly() -> None:
    data = short_recording()
    whole = outcome([data])
    middle = whole.fragments[2].end
    reader = MediaReader()
    reader.feed(data[:middle])
    state = reader.state()
    assert len(state) < 1024
    resumed = MediaReader.resume(state)
    assert resumed.state() == state
    assert (resumed.position, resumed.fragment_count, resumed.init) == (
        middle,
        3,
        reader.init,
    )
    rest = resumed.feed(data[middle:]) + resumed.finish()
    assert tuple(rest) == whole.fragments[3:]


def test_a_stopped_or_finished_reader_resumes_stopped_or_finished() -> None:
    reader = MediaReader()
    reader.feed(b"not an mp4 at all")
    resumed = MediaReader.resume(reader.state())
    assert reader.failure is not None
    assert resumed.failure is not None
    assert (resumed.failure.reason, resumed.failure.offset) == (reader.failure.reason, 0)
    assert resumed.feed(short_recording()) == []
    finished = MediaReader()
    finished.feed(short_recording())
    finished.finish()
    again = MediaReader.resume(finished.state())
    assert again.finished
    assert again.failure is None
    assert again.fragment_count == 5
    assert again.feed(b"more") == []
    assert again.finish() == []


@pytest.mark.parametrize(
    "state",
    [
        b"",
        b"LMR1",
        b"LMR1\x00\x00\x00\x02{}",
        b"XXXX\x00\x00\x00\x02{}",
        b"LMR1\x00\x00\x00\x04null",
        MediaReader().state().replace(b'"position":0', b'"position":-1'),
        MediaReader().state().replace(b'"phase":"start"', b'"phase":"elsewhere"'),
        MediaReader().state().replace(b'"finished":false', b'"finished":0'),
        MediaReader().state() + bytes(MAX_BUFFERED_BYTES + 1),
    ],
)
def test_resume_refuses_what_is_not_a_state(state: bytes) -> None:
    with pytest.raises(InvalidValue):
        MediaReader.resume(state)


# --------------------------------------------------------------------------------------------
# Segments
# --------------------------------------------------------------------------------------------


def frags(*spec: tuple[float, bool], timescale: int = 1000) -> list[Fragment]:
    """Fragments of the given (seconds, starts on sync), back to back, 100 bytes each."""
    result, start = [], 0
    for index, (seconds, sync) in enumerate(spec):
        duration = round(seconds * timescale)
        result.append(Fragment(index, 1000 + 100 * index, 100, start, duration, timescale, sync))
        start += duration
    return result


def grouping(fragments: list[Fragment], **bounds: float) -> list[tuple[int, float]]:
    return [(s.fragment_count, s.duration_seconds) for s in segments(fragments, **bounds)]


def test_segments_group_short_sync_fragments_up_to_the_minimum() -> None:
    assert grouping(frags(*[(1.0, True)] * 5)) == [(2, 2.0), (2, 2.0), (1, 1.0)]
    assert grouping(frags(*[(0.5, True)] * 8)) == [(4, 2.0), (4, 2.0)]
    assert grouping(frags(*[(1.5, True)] * 4)) == [(2, 3.0), (2, 3.0)]
    assert grouping(frags(*[(2.0, True)] * 3)) == [(1, 2.0)] * 3


def test_segments_close_before_passing_the_maximum() -> None:
    assert grouping(frags((1.5, True), (5.0, True))) == [(1, 1.5), (1, 5.0)]
    assert grouping(frags((1.5, True), (4.5, True))) == [(2, 6.0)]
    assert grouping(frags((1.0, True), (1.0, True)), minimum_seconds=3, maximum_seconds=4) == [
        (2, 2.0)
    ]
    assert grouping(frags((8.0, True), (8.0, True))) == [(1, 8.0), (1, 8.0)]


def test_segments_never_start_on_a_fragment_that_is_not_sync() -> None:
    fragments = frags((2.0, True), (2.0, False), (5.0, False), (1.0, True), (1.0, False))
    result = segments(fragments)
    assert [(s.fragment_count, s.duration_seconds) for s in result] == [(3, 9.0), (2, 2.0)]
    assert all(s.starts_on_sync for s in result)
    assert result[0].offset == 1000
    assert result[0].length == 300
    assert result[1].start == 9000
    assert result[1].end == fragments[-1].end
    # a recording that begins without a sync fragment still has a first segment
    assert grouping(frags((1.0, False), (1.0, True))) == [(2, 2.0)]
    assert segments([]) == []


def test_segments_of_a_real_recording() -> None:
    fragments = outcome([short_recording()]).fragments
    result = segments(fragments)
    assert [s.duration_seconds for s in result] == [2.0, 2.0, 1.0]
    assert sum(s.length for s in result) == sum(f.length for f in fragments)


def test_segment_bounds_are_checked() -> None:
    with pytest.raises(InvalidValue):
        segments([], minimum_seconds=0)
    with pytest.raises(InvalidValue):
        segments([], minimum_seconds=7, maximum_seconds=6)
    with pytest.raises(InvalidValue):
        segments([*frags((1.0, True)), *frags((1.0, True), timescale=90_000)])


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


@st.composite
def cuts(draw: st.DrawFn, data: bytes) -> list[bytes]:
    points = sorted(set(draw(st.lists(st.integers(0, len(data)), max_size=60))))
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@PROPERTY
@given(st.data())
def test_any_cut_reads_the_same_as_the_whole(data: st.DataObject) -> None:
    recording = short_recording()
    assert outcome(data.draw(cuts(recording))) == outcome([recording])


@PROPERTY
@given(st.data())
def test_resuming_after_every_piece_reads_the_same(data: st.DataObject) -> None:
    recording = short_recording()
    pieces = data.draw(cuts(recording))
    assert outcome(pieces, resume_each=True) == outcome([recording])


@PROPERTY
@given(st.integers(0, 2**16))
def test_uneven_cuts_with_resume_read_the_same(seed: int) -> None:
    recording = fragmented_mp4(3, fps=10, keyframe_seconds=1, size=SMALL, audio=True)
    pieces = cut_unevenly(recording, seed)
    assert outcome(pieces, resume_each=True) == outcome([recording])


@PROPERTY
@given(st.data())
def test_a_prefix_reads_a_prefix_of_the_fragments(data: st.DataObject) -> None:
    recording = short_recording()
    whole = outcome([recording]).fragments
    length = data.draw(st.integers(0, len(recording)))
    prefix = outcome(data.draw(cuts(recording[:length])), finish=False)
    assert prefix.failure is None
    assert prefix.fragments == tuple(f for f in whole if f.end <= length)


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> tuple[bytes, int]:
    """`data` with one kind of damage, and the offset of the first damaged byte."""
    where = draw(st.integers(0, len(data) - 1))
    kind = draw(st.sampled_from(["flip", "insert", "delete", "size", "large", "cut"]))
    if kind == "flip":
        return data[:where] + bytes([data[where] ^ draw(st.integers(1, 255))]) + data[
            where + 1 :
        ], where
    if kind == "insert":
        extra = draw(st.binary(min_size=1, max_size=40))
        return data[:where] + extra + data[where:], where
    if kind == "delete":
        return data[:where] + data[where + draw(st.integers(1, 40)) :], where
    boxes = [b for b in top_level(data) if b.offset >= where] or top_level(data)[-1:]
    target = draw(st.sampled_from(boxes))
    if kind == "cut":
        return data[: target.offset + draw(st.integers(0, 7))] + data[target.end :], target.offset
    if kind == "size":
        size = draw(
            st.sampled_from([0, 1, 2, 7, 8, 9, 2**31, 2**32 - 1]) | st.integers(0, 2**32 - 1)
        )
        return data[: target.offset] + u32(size) + data[target.offset + 4 :], target.offset
    large = draw(st.sampled_from([0, 15, 16, 2**40, 2**64 - 1]) | st.integers(0, 2**64 - 1))
    header = u32(1) + data[target.offset + 4 : target.offset + 8] + u64(large)
    return data[: target.offset] + header + data[target.offset + 8 :], target.offset


@PROPERTY
@given(st.data())
def test_damage_never_raises_and_keeps_what_came_before(data: st.DataObject) -> None:
    recording = short_recording()
    whole = outcome([recording]).fragments
    broken, where = data.draw(damaged(recording))
    result = outcome(data.draw(cuts(broken)))  # checks buffered_bytes after every piece
    before = tuple(f for f in whole if f.end <= where)
    assert result.fragments[: len(before)] == before
    assert outcome(data.draw(cuts(broken)), resume_each=True) == result


BOX_KINDS = st.sampled_from(
    ["ftyp", "moov", "trak", "mdia", "minf", "stbl", "stsd", "tkhd", "mdhd", "hdlr", "mvex",
     "trex", "moof", "traf", "tfhd", "tfdt", "trun", "mdat", "mfra", "free", "uuid", "avc1",
     "avcC", "hvc1", "hvcC", "mp4a", "esds", "Opus"]
)  # fmt: skip


def box_trees() -> st.SearchStrategy[bytes]:
    """Boxes of the kinds the reader looks into, nested at random, some with lying sizes."""
    leaves = st.binary(max_size=24)

    def nest(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
        lies = st.sampled_from([0, 0, 0, 0, 0, -1, 1, -8, 8, 2**31])
        parts = st.tuples(BOX_KINDS, st.lists(children, max_size=4), lies)

        def build(part: tuple[str, list[bytes], int]) -> bytes:
            kind, inner, lie = part
            payload = b"".join(inner)
            built = box(kind, payload)
            if lie and kind not in ("ftyp",):
                built = u32(max(0, min(len(built) + lie, 2**32 - 1))) + built[4:]
            return built

        return parts.map(build)

    return st.recursive(leaves, nest, max_leaves=30)


@PROPERTY
@given(st.lists(box_trees(), max_size=6), st.booleans(), st.data())
def test_hostile_box_structures_never_raise(
    boxes: list[bytes], valid_start: bool, data: st.DataObject
) -> None:
    stream = (init() + fragment() if valid_start else FTYP) + b"".join(boxes)
    result = outcome(data.draw(cuts(stream)))
    if valid_start:
        assert len(result.fragments) >= 1
    assert outcome([stream], resume_each=True) == result


def test_no_exception_escapes_but_not_playable_is_a_domain_error() -> None:
    assert issubclass(NotPlayable, DomainError)
    error = NotPlayable("why", 12)
    assert (error.reason, error.offset) == ("why", 12)
    assert "12" in str(error)


def any_full_box(kind: str) -> st.SearchStrategy[bytes]:
    """A `kind` full box with any version, flags and payload."""
    return st.builds(
        lambda version, flags, payload: full_box(kind, version, flags, payload),
        st.sampled_from([0, 1, 2, 255]),
        st.integers(0, 2**24 - 1),
        st.binary(max_size=48),
    )


@st.composite
def hostile_recordings(draw: st.DrawFn) -> bytes:
    """A synthetic recording whose structure is right but whose boxes the reader parses hold
    anything: random versions, flags and payloads, extra box trees, lying sizes."""

    def extra() -> bytes:
        return b"".join(draw(st.lists(box_trees(), max_size=2)))

    def either(good: bytes, kind: str) -> bytes:
        """Mostly `good`, sometimes any `kind` full box."""
        return draw(any_full_box(kind)) if draw(st.integers(0, 3)) == 3 else good

    entry = draw(
        st.sampled_from(
            [
                AVC_ENTRY,
                hevc_entry("hvc1", HEVC_MAIN),
                mp4a_entry(esds(bytes([0x12, 0x10]))),
                box("Opus", bytes(28)),
            ]
        )
    )
    kind, payload = entry[4:8].decode(), entry[8:]
    if draw(st.booleans()):
        payload = payload[: draw(st.integers(0, len(payload)))]
    entry = box(kind, payload + extra())
    handler = draw(st.sampled_from(["vide", "soun"]))
    head = init(
        trak(1, handler, entry=entry, version=draw(st.sampled_from([0, 1])), extra=extra()),
        trexes=[either(trex(1), "trex")],
        extra=extra(),
    )
    fragments = []
    for index in range(draw(st.integers(1, 3))):
        good = traf(base_time=index * 10, durations=[5, 5], sample_flags=[SYNC, NON_SYNC])
        tfhd_end = 8 + int.from_bytes(good[8:12], "big")
        tfdt_end = tfhd_end + int.from_bytes(good[tfhd_end : tfhd_end + 4], "big")
        parts = [
            either(good[8:tfhd_end], "tfhd"),
            either(good[tfhd_end:tfdt_end], "tfdt"),
            either(good[tfdt_end:], "trun"),
        ]
        fragments.append(fragment(box("traf", b"".join(parts) + extra()), extra=extra()))
    return head + b"".join(fragments)


@settings(PROPERTY, max_examples=80)
@given(hostile_recordings(), st.data())
def test_hostile_boxes_inside_moov_and_moof_never_raise(
    recording: bytes, data: st.DataObject
) -> None:
    result = outcome(data.draw(cuts(recording)))  # checks buffered_bytes after every piece
    assert outcome([recording], resume_each=True) == result
    assert result.failure is not None or len(result.fragments) >= 1
