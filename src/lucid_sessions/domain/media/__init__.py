"""A streaming reader of fragmented MP4 (ISO BMFF) recordings, the core of HLS indexing.

Recorders upload a recording as chunks cut at arbitrary byte offsets. When the recording is a
fragmented MP4 (ffmpeg ``-movflags frag_keyframe+empty_moov+default_base_moof``: ``ftyp``, a
``moov`` holding ``mvex``, then ``moof`` + ``mdat`` fragments, maybe ``mfra`` at the end) the
service can serve it as HLS while it is still being recorded: the init segment is every byte
before the first ``moof`` (EXT-X-MAP with a byte range), and each media segment is the byte
range of whole fragments. `MediaReader` finds those ranges and their times from the bytes,
fed in order in pieces of any size; `segments` groups fragments into HLS segments;
`media_playlist` writes their HLS media playlist and `clip_fragments` picks a clip's fragments.

Decisions (what the reader accepts and why):

- A fragment is one ``moof`` and the one ``mdat`` after it (``free``/``skip``/``uuid`` boxes
  may sit between them and belong to the fragment). It is reported as soon as its ``mdat`` is
  complete, so a live recording lists a fragment the moment its last byte arrives; a second
  ``mdat`` before the next ``moof`` stops the reader (the fragment was already reported).
- Between fragments only ``moof`` and the boxes a segmenter may write there are accepted
  (`BETWEEN_FRAGMENTS`: ``mfra``, ``free``, ``sidx``, ``styp``, ``emsg``...); they are skipped
  and belong to no fragment. Anything else there (garbage, an unknown box) stops the reader.
- Before the first ``moof`` (the init segment) the first box must be ``ftyp``; ``moov`` is
  parsed; other boxes are skipped. An ``mdat`` there, or a ``moov`` without ``mvex``, means a
  progressive (not fragmented) MP4. The init segment may not pass `MAX_INIT_BYTES`.
- A box of size 0 ("to the end of the file") is accepted only as the ``mdat`` of a fragment:
  that fragment is reported by `MediaReader.finish`, when the end is known.
- A fragment's times are those of the video track (else of the first track), in integer
  ticks of that track's timescale: start from ``tfdt`` (else where the track's previous
  fragment ended), duration the sum of its sample durations.
- Only box headers, ``moov`` (up to `MAX_MOOV_BYTES`) and ``moof`` (up to `MAX_MOOF_BYTES`)
  are buffered; ``mdat`` and skipped boxes are counted through. `MAX_BUFFERED_BYTES` bounds
  `MediaReader.buffered_bytes` whatever the input. The parsers follow a fixed path of boxes
  (``moov/trak/mdia/minf/stbl/stsd``, ``moof/traf``) without recursion, so nesting depth is
  bounded by construction.
- Bad input never raises: the reader stops, keeping the `NotPlayable` reason and the byte
  offset where the recording stops being playable; fragments reported before stay valid and
  later bytes are ignored. The reader's whole state fits in `MediaReader.state` (bytes), so
  indexing resumes exactly after a restart between chunks.
"""

from lucid_sessions.domain.media.playlist import (
    HLS_VERSION,
    LIVE_TARGET_SECONDS,
    PLAYLIST_MEDIA_TYPE,
    RangeNotSatisfiable,
    clip_fragments,
    listed_segments,
    media_playlist,
)
from lucid_sessions.domain.media.reader import BETWEEN_FRAGMENTS, MediaReader
from lucid_sessions.domain.media.segments import Segment, segments
from lucid_sessions.domain.media.values import (
    MAX_BUFFERED_BYTES,
    MAX_INIT_BYTES,
    MAX_MOOF_BYTES,
    MAX_MOOV_BYTES,
    MAX_TRACKS,
    Fragment,
    InitSegment,
    NotPlayable,
    Track,
)

__all__ = [
    "BETWEEN_FRAGMENTS",
    "HLS_VERSION",
    "LIVE_TARGET_SECONDS",
    "MAX_BUFFERED_BYTES",
    "MAX_INIT_BYTES",
    "MAX_MOOF_BYTES",
    "MAX_MOOV_BYTES",
    "MAX_TRACKS",
    "PLAYLIST_MEDIA_TYPE",
    "Fragment",
    "InitSegment",
    "MediaReader",
    "NotPlayable",
    "RangeNotSatisfiable",
    "Segment",
    "Track",
    "clip_fragments",
    "listed_segments",
    "media_playlist",
    "segments",
]
