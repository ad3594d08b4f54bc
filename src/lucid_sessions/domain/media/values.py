"""The values of media indexing: tracks, the init segment, fragments, the caps, the error."""

from __future__ import annotations

from dataclasses import dataclass

from lucid_sessions.domain.errors import DomainError

__all__ = [
    "MAX_BUFFERED_BYTES",
    "MAX_FTYP_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_INIT_BYTES",
    "MAX_MOOF_BYTES",
    "MAX_MOOV_BYTES",
    "MAX_TRACKS",
    "Fragment",
    "InitSegment",
    "NotPlayable",
    "Track",
]

MAX_MOOV_BYTES = 8 * 1024 * 1024
"""The largest ``moov`` box (header included) the reader buffers."""
MAX_MOOF_BYTES = 1024 * 1024
"""The largest ``moof`` box (header included) the reader buffers."""
MAX_HEADER_BYTES = 32
"""A box header: size, type, 64-bit largesize, 16-byte ``uuid`` extended type."""
MAX_BUFFERED_BYTES = MAX_MOOV_BYTES
"""Bound of `MediaReader.buffered_bytes`: one header or one box body is buffered at a time."""
MAX_INIT_BYTES = 16 * 1024 * 1024
"""The first ``moof`` must start before this offset (the init segment is served whole)."""
MAX_FTYP_BYTES = 64 * 1024
"""A larger first ``ftyp`` box is taken for something that is not an MP4 file."""
MAX_TRACKS = 64


class NotPlayable(DomainError):
    """The recording cannot be served from `offset` on, for `reason`."""

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"not playable from byte {offset}: {reason}")
        self.reason = reason
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Track:
    """One ``trak`` of the ``moov``, with the defaults of its ``trex``. `codec` is the RFC 6381
    string HLS lists in CODECS, or None for a sample entry this module does not know."""

    track_id: int
    handler: str
    timescale: int
    sample_entry: str | None
    codec: str | None
    default_sample_duration: int = 0
    default_sample_size: int = 0
    default_sample_flags: int = 0


@dataclass(frozen=True, slots=True)
class InitSegment:
    """Bytes ``[0, length)`` of the recording: ``ftyp``, ``moov`` and whatever precedes the
    first ``moof``. `timing_track_id` names the track that gives fragments their times."""

    length: int
    tracks: tuple[Track, ...]
    timing_track_id: int

    @property
    def codecs(self) -> tuple[str, ...]:
        return tuple(track.codec for track in self.tracks if track.codec is not None)

    @property
    def timing_track(self) -> Track:
        return next(track for track in self.tracks if track.track_id == self.timing_track_id)


@dataclass(frozen=True, slots=True)
class Fragment:
    """A complete fragment: bytes ``[offset, offset + length)`` (``moof`` through its
    ``mdat``), the `index`-th of the recording. Times are exact ticks of `timescale`."""

    index: int
    offset: int
    length: int
    start: int
    duration: int
    timescale: int
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
