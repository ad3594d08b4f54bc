"""Parsers of the boxes the reader buffers (``moov``, ``moof``) and of box headers.

Parsers take the buffered bytes and `base`, the offset in the recording of ``data[0]``, so a
`NotPlayable` names the offset of the box at fault. Every read is bounds-checked. They follow a
fixed path of boxes (``moov/trak/mdia/minf/stbl/stsd/<entry>/<config>``, ``moov/mvex/trex``,
``moof/traf/<tfhd,tfdt,trun>``) without recursion: nesting depth is bounded by construction.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lucid_sessions.domain.media.values import MAX_TRACKS, NotPlayable, Track

__all__ = ["FragmentTiming", "header_length", "parse_moof", "parse_moov", "timing_track"]

_NON_SYNC_SAMPLE = 0x00010000  # sample_is_non_sync_sample in the sample flags


@dataclass(frozen=True, slots=True)
class FragmentTiming:
    """What a ``moof`` says of the timing track: start and duration in ticks."""

    start: int
    duration: int
    starts_on_sync: bool


def header_length(header: bytes | bytearray) -> int:
    """How long the box header that begins with `header` is (8 until its size is known)."""
    if len(header) < 8:
        return 8
    large = int.from_bytes(header[0:4], "big") == 1
    return 8 + (8 if large else 0) + (16 if header[4:8] == b"uuid" else 0)


def timing_track(tracks: tuple[Track, ...]) -> int:
    video = [track for track in tracks if track.handler == "vide"]
    return (video or list(tracks))[0].track_id


@dataclass(frozen=True, slots=True)
class _Box:
    """A box inside a buffered box: its payload is ``data[start:end]``; `base` is the offset in
    the recording of ``data[0]`` and `position` that of the box, named by its errors."""

    kind: str
    data: bytes
    start: int
    end: int
    base: int
    position: int

    def uint(self, at: int, width: int) -> int:
        """The big-endian unsigned integer `at` bytes into the payload."""
        return int.from_bytes(self.raw(at, width), "big")

    def raw(self, at: int, width: int) -> bytes:
        if self.start + at + width > self.end:
            raise NotPlayable(f"{self.kind} is truncated", self.position)
        return self.data[self.start + at : self.start + at + width]

    def children(self, skip: int = 0) -> Iterator[_Box]:
        """The boxes in the payload after its first `skip` bytes."""
        at, end = self.start + skip, self.end
        while at < end:
            if at + 8 > end:
                raise NotPlayable(f"a box header in {self.kind} is truncated", self.base + at)
            size = int.from_bytes(self.data[at : at + 4], "big")
            kind = self.data[at + 4 : at + 8].decode("latin-1")
            header = 8
            if size == 1 and at + 16 <= end:
                size, header = int.from_bytes(self.data[at + 8 : at + 16], "big"), 16
            header += 16 if kind == "uuid" else 0
            if size < header or at + size > end:
                raise NotPlayable(
                    f"{kind!r} box of {size} bytes does not fit in {self.kind}", self.base + at
                )
            yield _Box(kind, self.data, at + header, at + size, self.base, self.base + at)
            at += size

    def child(self, kind: str, skip: int = 0) -> _Box | None:
        """The first `kind` box in the payload after its first `skip` bytes."""
        return next((box for box in self.children(skip) if box.kind == kind), None)

    def required(self, kind: str) -> _Box:
        found = self.child(kind)
        if found is None:
            raise NotPlayable(f"{self.kind} without {kind}", self.position)
        return found

    def path(self, *kinds: str) -> _Box | None:
        """The box at `kinds` below this one (the first match at each level)."""
        found: _Box | None = self
        for kind in kinds:
            found = None if found is None else found.child(kind)
        return found


def parse_moov(data: bytes, base: int, offset: int) -> tuple[Track, ...]:
    """The tracks of a ``moov`` (payload `data`, at `base`; the box at `offset`), with the
    defaults of their ``trex``. A ``moov`` without ``mvex`` is not a fragmented recording."""
    moov = _Box("moov", data, 0, len(data), base, offset)
    traks: list[Track] = []
    defaults: dict[int, tuple[int, int, int]] = {}
    mvex = moov.child("mvex")
    if mvex is None:
        raise NotPlayable("not a fragmented MP4 recording: its moov has no mvex", offset)
    for trex in mvex.children():
        if trex.kind == "trex":
            defaults[trex.uint(4, 4)] = (trex.uint(12, 4), trex.uint(16, 4), trex.uint(20, 4))
    for trak in moov.children():
        if trak.kind == "trak":
            if len(traks) == MAX_TRACKS:
                raise NotPlayable(f"more than {MAX_TRACKS} tracks", trak.position)
            traks.append(_parse_trak(trak))
    if not traks:
        raise NotPlayable("the moov has no track", offset)
    if len({track.track_id for track in traks}) != len(traks):
        raise NotPlayable("two tracks with the same track id", offset)
    return tuple(
        Track(
            track.track_id,
            track.handler,
            track.timescale,
            track.sample_entry,
            track.codec,
            *defaults.get(track.track_id, (0, 0, 0)),
        )
        for track in traks
    )


def _parse_trak(trak: _Box) -> Track:
    tkhd = trak.required("tkhd")
    track_id = tkhd.uint(20 if tkhd.uint(0, 1) == 1 else 12, 4)
    mdia = trak.required("mdia")
    mdhd = mdia.required("mdhd")
    timescale = mdhd.uint(20 if mdhd.uint(0, 1) == 1 else 12, 4)
    if timescale == 0:
        raise NotPlayable(f"track {track_id} has a timescale of 0", mdhd.position)
    handler = mdia.required("hdlr").raw(8, 4).decode("latin-1")
    stsd = mdia.path("minf", "stbl", "stsd")
    entry = None if stsd is None else next(stsd.children(skip=8), None)
    if entry is None:
        return Track(track_id, handler, timescale, None, None)
    return Track(track_id, handler, timescale, entry.kind, _codec(entry))


_FIXED_CODECS = {"Opus": "opus", "ac-3": "ac-3", "ec-3": "ec-3", "fLaC": "fLaC"}
_VISUAL_ENTRY_FIELDS = 78  # SampleEntry + VisualSampleEntry fields before the child boxes
_AUDIO_ENTRY_FIELDS = {0: 28, 1: 44, 2: 64}  # by the (QuickTime) sound description version


def _codec(entry: _Box) -> str | None:
    """The RFC 6381 codec string of a sample entry (ISO/IEC 14496-15 annex E for AVC, HEVC),
    None for an entry this module does not know or an AVC/HEVC entry without its record."""
    kind = entry.kind
    if kind in _FIXED_CODECS:
        return _FIXED_CODECS[kind]
    if kind in ("avc1", "avc3"):
        avcc = entry.child("avcC", skip=_VISUAL_ENTRY_FIELDS)
        return None if avcc is None else f"{kind}.{avcc.raw(1, 3).hex()}"
    if kind in ("hvc1", "hev1"):
        hvcc = entry.child("hvcC", skip=_VISUAL_ENTRY_FIELDS)
        return None if hvcc is None else _hevc_codec(kind, hvcc.raw(0, 13))
    if kind == "mp4a":
        try:
            fields = _AUDIO_ENTRY_FIELDS.get(entry.uint(8, 2), 28)
            esds = entry.child("esds", skip=fields)
            return "mp4a.40.2" if esds is None else _esds_codec(esds)
        except NotPlayable:  # an unreadable esds: AAC-LC is what a recorder writes
            return "mp4a.40.2"
    return None


def _hevc_codec(kind: str, config: bytes) -> str:
    """``hvc1.1.6.L93.B0``: profile space letter and profile, compatibility flags in reverse
    bit order, tier and level, constraint bytes without the trailing zero ones."""
    space, tier, profile = config[1] >> 6, (config[1] >> 5) & 1, config[1] & 0x1F
    compatibility = int(f"{int.from_bytes(config[2:6], 'big'):032b}"[::-1], 2)
    constraints = config[6:12].rstrip(b"\x00")
    parts = [
        kind,
        f"{['', 'A', 'B', 'C'][space]}{profile}",
        f"{compatibility:X}",
        f"{'LH'[tier]}{config[12]}",
        *(f"{byte:X}" for byte in constraints),
    ]
    return ".".join(parts)


def _esds_codec(esds: _Box) -> str:
    """``mp4a.40.<audio object type>`` from the ES descriptor (ISO/IEC 14496-1 7.2.6), or
    ``mp4a.<object type>`` for another object type than MPEG-4 audio."""
    tag, at = _descriptor(esds, 4)
    if tag != 0x03:
        return "mp4a.40.2"
    flags = esds.uint(at + 2, 1)
    at += 3
    if flags & 0x80:  # streamDependenceFlag
        at += 2
    if flags & 0x40:  # URL_Flag
        at += 1 + esds.uint(at, 1)
    if flags & 0x20:  # OCRstreamFlag
        at += 2
    tag, at = _descriptor(esds, at)
    if tag != 0x04:
        return "mp4a.40.2"
    object_type = esds.uint(at, 1)
    if object_type != 0x40:
        return f"mp4a.{object_type:02x}"
    tag, at = _descriptor(esds, at + 13)
    if tag != 0x05:
        return "mp4a.40.2"
    audio_object_type = esds.uint(at, 1) >> 3  # AudioSpecificConfig: 5 bits
    if audio_object_type == 31:  # escape: 32 + the next 6 bits
        audio_object_type = 32 + ((esds.uint(at, 2) >> 5) & 0x3F)
    return f"mp4a.40.{audio_object_type}"


def _descriptor(esds: _Box, at: int) -> tuple[int, int]:
    """A descriptor's tag and where its payload starts (its size: 1 to 4 bytes of 7 bits)."""
    tag = esds.uint(at, 1)
    at += 1
    for _ in range(4):
        more = esds.uint(at, 1) & 0x80
        at += 1
        if not more:
            break
    return tag, at


def parse_moof(
    data: bytes, base: int, offset: int, track: Track, next_start: int
) -> FragmentTiming:
    """The timing track's start, duration and first-sample sync in one ``moof`` (payload
    `data` at `base`, the box at `offset`). Without a ``traf`` of that track the fragment
    starts where the last one ended (`next_start`), lasts 0 and is not known to start on a
    sync sample; so does one without ``tfdt``, with its durations."""
    moof = _Box("moof", data, 0, len(data), base, offset)
    start: int | None = None
    duration = 0
    first_flags: int | None = None
    for traf in moof.children():
        if traf.kind != "traf":
            continue
        tfhd = traf.required("tfhd")
        if tfhd.uint(4, 4) != track.track_id:
            continue
        default_duration, default_flags = _fragment_defaults(tfhd, track)
        for box in traf.children():
            if box.kind == "tfdt" and start is None:
                start = box.uint(4, 8 if box.uint(0, 1) == 1 else 4)
            elif box.kind == "trun":
                run_duration, run_flags = _run(box, default_duration, default_flags)
                duration += run_duration
                first_flags = run_flags if first_flags is None else first_flags
    if track.handler != "vide":
        sync = True
    else:
        sync = first_flags is not None and not first_flags & _NON_SYNC_SAMPLE
    return FragmentTiming(next_start if start is None else start, duration, sync)


def _fragment_defaults(tfhd: _Box, track: Track) -> tuple[int, int]:
    """A ``traf``'s default sample duration and flags: its ``tfhd``'s, else the ``trex``'s."""
    flags = tfhd.uint(1, 3)
    at = 8
    at += 8 if flags & 0x01 else 0  # base_data_offset
    at += 4 if flags & 0x02 else 0  # sample_description_index
    duration = track.default_sample_duration
    if flags & 0x08:
        duration = tfhd.uint(at, 4)
        at += 4
    at += 4 if flags & 0x10 else 0  # default_sample_size
    sample_flags = tfhd.uint(at, 4) if flags & 0x20 else track.default_sample_flags
    return duration, sample_flags


def _run(trun: _Box, default_duration: int, default_flags: int) -> tuple[int, int | None]:
    """A ``trun``'s summed sample duration and its first sample's flags (None if empty)."""
    flags = trun.uint(1, 3)
    count = trun.uint(4, 4)
    at = 8 + (4 if flags & 0x001 else 0)  # data_offset
    first_flags: int | None = None
    if flags & 0x004:
        first_flags = trun.uint(at, 4)
        at += 4
    has_duration, has_size, has_flags = flags & 0x100, flags & 0x200, flags & 0x400
    stride = 4 * sum(1 for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit)
    if count * stride > trun.end - trun.start - at:
        raise NotPlayable(f"trun of {count} samples does not fit its box", trun.position)
    if has_duration:
        samples = trun.raw(at, count * stride)
        duration = sum(
            int.from_bytes(samples[sample : sample + 4], "big")
            for sample in range(0, len(samples), stride)
        )
    else:
        duration = count * default_duration
    if count == 0:
        return duration, None
    if first_flags is None and has_flags:
        first_flags = trun.uint(at + (4 if has_duration else 0) + (4 if has_size else 0), 4)
    return duration, default_flags if first_flags is None else first_flags
