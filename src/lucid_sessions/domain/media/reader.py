"""`MediaReader`: the streaming state machine over a recording's top-level boxes."""

from __future__ import annotations

import json
from dataclasses import astuple, dataclass
from enum import StrEnum

from lucid_sessions.domain.errors import InvalidValue
from lucid_sessions.domain.media.boxes import (
    FragmentTiming,
    header_length,
    parse_moof,
    parse_moov,
    timing_track,
)
from lucid_sessions.domain.media.values import (
    MAX_BUFFERED_BYTES,
    MAX_FTYP_BYTES,
    MAX_HEADER_BYTES,
    MAX_INIT_BYTES,
    MAX_MOOF_BYTES,
    MAX_MOOV_BYTES,
    Fragment,
    InitSegment,
    NotPlayable,
    Track,
)

__all__ = ["BETWEEN_FRAGMENTS", "MediaReader"]

BETWEEN_FRAGMENTS = frozenset(
    {"mfra", "free", "skip", "sidx", "ssix", "styp", "emsg", "prft", "uuid"}
)
"""Top-level boxes skipped between fragments."""
_WITHIN_FRAGMENT = frozenset({"free", "skip", "uuid"})
"""Boxes skipped between a ``moof`` and its ``mdat``."""

_STATE_MAGIC = b"LMR1"


class _Phase(StrEnum):
    START = "start"  # nothing read yet: an ftyp comes first
    INIT = "init"  # before the first moof
    FRAGMENT = "fragment"  # a moof was read, its mdat is not complete yet
    BETWEEN = "between"  # after a complete fragment


@dataclass(frozen=True, slots=True)
class _OpenBox:
    """The top-level box being read; `size` None means "to the end of the file"."""

    kind: str
    offset: int
    size: int | None
    header_length: int
    buffered: bool


@dataclass(frozen=True, slots=True)
class _Pending:
    """A fragment whose ``moof`` is read and whose ``mdat`` is not complete yet."""

    offset: int
    timing: FragmentTiming


class MediaReader:
    """Reads a fragmented MP4 recording fed in order, in pieces of any size.

    `feed` returns the fragments its bytes completed; `finish` says the recording ended.
    Neither raises on bad input: the reader stops and `failure` says why and from which byte.
    `state` and `resume` carry everything across a restart.
    """

    def __init__(self) -> None:
        self._position = 0
        self._phase = _Phase.START
        self._finished = False
        self._failure: NotPlayable | None = None
        self._header = bytearray()
        self._box: _OpenBox | None = None
        self._body = bytearray()
        self._tracks: tuple[Track, ...] | None = None
        self._init: InitSegment | None = None
        self._pending: _Pending | None = None
        self._count = 0
        self._next_start = 0

    # -- what the reader knows -------------------------------------------------------------

    @property
    def position(self) -> int:
        """How many bytes of the recording were read (bytes after a stop are not counted)."""
        return self._position

    @property
    def failure(self) -> NotPlayable | None:
        return self._failure

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def tracks(self) -> tuple[Track, ...] | None:
        """The tracks of the ``moov``, once it is read."""
        return self._tracks

    @property
    def init(self) -> InitSegment | None:
        """The init segment, known once the first ``moof`` begins."""
        return self._init

    @property
    def fragment_count(self) -> int:
        return self._count

    @property
    def buffered_bytes(self) -> int:
        """Bytes held for a partial box header or box body: at most `MAX_BUFFERED_BYTES`."""
        return len(self._header) + len(self._body)

    # -- reading ---------------------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> list[Fragment]:
        """Read the next bytes of the recording; return the fragments they completed. After a
        stop or `finish`, bytes are ignored and nothing is returned."""
        completed: list[Fragment] = []
        if self._failure is not None or self._finished:
            return completed
        view = memoryview(data).cast("B")
        at = 0
        try:
            while at < len(view):
                at += self._step(view[at:], completed)
        except NotPlayable as stop:
            self._stop(stop)
        return completed

    def finish(self) -> list[Fragment]:
        """Say the recording ended; return the fragment that only the end completes (one whose
        ``mdat`` runs to the end of the file). A recording that ends inside a box, or before
        its first fragment, is stopped with the reason. `finish` is terminal."""
        completed: list[Fragment] = []
        if self._failure is not None or self._finished:
            return completed
        self._finished = True
        try:
            box = self._box
            if self._header:
                raise NotPlayable("the recording ends inside a box header", self._box_start())
            if box is not None and box.size is None and self._pending is not None:
                completed.append(self._complete_fragment())
            elif box is not None:
                raise NotPlayable(
                    f"the recording ends inside its {box.kind!r} box "
                    f"({self._position - box.offset} of {box.size} bytes)",
                    box.offset,
                )
            elif self._pending is not None:
                raise NotPlayable(
                    "the recording ends after a moof without its mdat", self._pending.offset
                )
            elif self._count == 0:
                raise NotPlayable("the recording ends before its first fragment", self._position)
        except NotPlayable as stop:
            self._stop(stop)
        return completed

    def _stop(self, stop: NotPlayable) -> None:
        self._failure = stop
        self._header.clear()
        self._body.clear()
        self._box = None
        self._pending = None

    def _box_start(self) -> int:
        return self._position - len(self._header)

    def _step(self, data: memoryview, completed: list[Fragment]) -> int:
        """Consume a prefix of `data` (at least one byte); return its length."""
        box = self._box
        if box is None:
            return self._read_header(data, completed)
        if box.size is None:  # an mdat to the end of the file
            self._position += len(data)
            return len(data)
        take = min(len(data), box.offset + box.size - self._position)
        if box.buffered:
            self._body += data[:take]
        self._position += take
        if self._position == box.offset + box.size:
            self._close_box(box, completed)
        return take

    def _read_header(self, data: memoryview, completed: list[Fragment]) -> int:
        take = min(len(data), header_length(self._header) - len(self._header))
        self._header += data[:take]
        self._position += take
        if len(self._header) == header_length(self._header):
            offset = self._box_start()
            header = bytes(self._header)
            self._header.clear()
            self._open_box(header, offset, completed)
        return take

    def _open_box(self, header: bytes, offset: int, completed: list[Fragment]) -> None:
        size = int.from_bytes(header[0:4], "big")
        raw_kind = header[4:8]
        if not all(0x20 <= byte <= 0x7E for byte in raw_kind):
            if self._phase is _Phase.START:
                raise NotPlayable("not a fragmented MP4 recording: it does not begin with ftyp", 0)
            raise NotPlayable(f"no box here (type bytes {raw_kind.hex()})", offset)
        kind = raw_kind.decode("ascii")
        to_the_end = size == 0
        if size == 1:
            size = int.from_bytes(header[8:16], "big")
        if not to_the_end and size < len(header):
            raise NotPlayable(f"{kind!r} box of {size} bytes, shorter than its header", offset)
        box = self._admit(kind, offset, None if to_the_end else size, len(header))
        self._box = box
        if box.size == box.header_length:
            self._close_box(box, completed)

    def _admit(self, kind: str, offset: int, size: int | None, header_length: int) -> _OpenBox:
        """Check that a `kind` box may come here; say whether it is buffered or skipped."""
        phase = self._phase
        if phase is _Phase.START:
            if kind != "ftyp" or size is None or size > MAX_FTYP_BYTES:
                raise NotPlayable("not a fragmented MP4 recording: it does not begin with ftyp", 0)
            self._phase = _Phase.INIT
            return _OpenBox(kind, offset, size, header_length, buffered=False)
        if size is None and not (kind == "mdat" and phase is _Phase.FRAGMENT):
            raise NotPlayable(f"{kind!r} box sized to the end of the file", offset)
        if phase is _Phase.INIT and kind != "moof":
            if kind == "mdat":
                raise NotPlayable("not a fragmented MP4 recording: mdat before any moof", offset)
            assert size is not None
            if kind == "moov" and self._tracks is not None:
                raise NotPlayable("a second moov", offset)
            if kind == "moov" and size > MAX_MOOV_BYTES:
                raise NotPlayable(f"moov of {size} bytes (at most {MAX_MOOV_BYTES})", offset)
            if offset + size > MAX_INIT_BYTES:
                raise NotPlayable(f"init segment longer than {MAX_INIT_BYTES} bytes", offset)
            return _OpenBox(kind, offset, size, header_length, buffered=kind == "moov")
        if phase is _Phase.FRAGMENT:
            if kind == "mdat" or kind in _WITHIN_FRAGMENT:
                return _OpenBox(kind, offset, size, header_length, buffered=False)
            raise NotPlayable(f"{kind!r} box where a fragment's mdat was expected", offset)
        if kind == "moof":
            if self._tracks is None:
                raise NotPlayable("moof before moov", offset)
            assert size is not None
            if size > MAX_MOOF_BYTES:
                raise NotPlayable(f"moof of {size} bytes (at most {MAX_MOOF_BYTES})", offset)
            if self._init is None:
                self._init = InitSegment(offset, self._tracks, timing_track(self._tracks))
            return _OpenBox(kind, offset, size, header_length, buffered=True)
        if kind == "mdat":
            raise NotPlayable("an mdat without its moof (a fragment has one mdat)", offset)
        if kind not in BETWEEN_FRAGMENTS:
            raise NotPlayable(f"unexpected {kind!r} box between fragments", offset)
        return _OpenBox(kind, offset, size, header_length, buffered=False)

    def _close_box(self, box: _OpenBox, completed: list[Fragment]) -> None:
        body = bytes(self._body)
        self._body.clear()
        self._box = None
        base = box.offset + box.header_length
        if box.kind == "moov":
            self._tracks = parse_moov(body, base, box.offset)
        elif box.kind == "moof":
            assert self._init is not None
            timing = parse_moof(body, base, box.offset, self._init.timing_track, self._next_start)
            self._pending = _Pending(box.offset, timing)
            self._phase = _Phase.FRAGMENT
        elif box.kind == "mdat" and self._phase is _Phase.FRAGMENT:
            completed.append(self._complete_fragment())

    def _complete_fragment(self) -> Fragment:
        pending = self._pending
        assert pending is not None
        assert self._init is not None
        fragment = Fragment(
            index=self._count,
            offset=pending.offset,
            length=self._position - pending.offset,
            start=pending.timing.start,
            duration=pending.timing.duration,
            timescale=self._init.timing_track.timescale,
            starts_on_sync=pending.timing.starts_on_sync,
        )
        self._count += 1
        self._next_start = pending.timing.start + pending.timing.duration
        self._pending = None
        self._phase = _Phase.BETWEEN
        return fragment

    # -- state -----------------------------------------------------------------------------

    def state(self) -> bytes:
        """Everything the reader knows, to persist with the index and `resume` from. Its size
        is bounded: a few hundred bytes per track plus `buffered_bytes`."""
        failure, box, pending = self._failure, self._box, self._pending
        fields = {
            "position": self._position,
            "phase": self._phase.value,
            "finished": self._finished,
            "failure": None if failure is None else [failure.reason, failure.offset],
            "box": None if box is None else list(astuple(box)),
            "tracks": None if self._tracks is None else [list(astuple(t)) for t in self._tracks],
            "init_length": None if self._init is None else self._init.length,
            "pending": None if pending is None else [pending.offset, *astuple(pending.timing)],
            "count": self._count,
            "next_start": self._next_start,
            "header_length": len(self._header),
        }
        text = json.dumps(fields, separators=(",", ":")).encode()
        return b"".join(
            [_STATE_MAGIC, len(text).to_bytes(4, "big"), text, self._header, self._body]
        )

    @classmethod
    def resume(cls, state: bytes) -> MediaReader:
        """A reader in the `state` another reader saved. Raises `InvalidValue` when `state`
        is not one."""
        try:
            return cls._from_state(state)
        except (ValueError, TypeError, KeyError, IndexError, RecursionError) as error:
            raise InvalidValue("state", f"not a media reader state ({error})") from None

    @classmethod
    def _from_state(cls, state: bytes) -> MediaReader:
        if state[:4] != _STATE_MAGIC:
            raise ValueError("unknown format")
        length = int.from_bytes(state[4:8], "big")
        fields = json.loads(state[8 : 8 + length])
        raw = state[8 + length :]
        reader = cls()
        reader._position = _integer(fields["position"])
        reader._phase = _Phase(fields["phase"])
        reader._finished = _boolean(fields["finished"])
        if (failure := fields["failure"]) is not None:
            reader._failure = NotPlayable(_text(failure[0]), _integer(failure[1]))
        if (box := fields["box"]) is not None:
            reader._box = _OpenBox(
                _text(box[0]),
                _integer(box[1]),
                None if box[2] is None else _integer(box[2]),
                _integer(box[3]),
                _boolean(box[4]),
            )
        if (tracks := fields["tracks"]) is not None:
            reader._tracks = tuple(
                Track(
                    track_id=_integer(t[0]),
                    handler=_text(t[1]),
                    timescale=_integer(t[2]),
                    sample_entry=None if t[3] is None else _text(t[3]),
                    codec=None if t[4] is None else _text(t[4]),
                    default_sample_duration=_integer(t[5]),
                    default_sample_size=_integer(t[6]),
                    default_sample_flags=_integer(t[7]),
                )
                for t in tracks
            )
        if (init_length := fields["init_length"]) is not None:
            if not reader._tracks:
                raise ValueError("an init segment without tracks")
            reader._init = InitSegment(
                _integer(init_length), reader._tracks, timing_track(reader._tracks)
            )
        if (pending := fields["pending"]) is not None:
            reader._pending = _Pending(
                _integer(pending[0]),
                FragmentTiming(_integer(pending[1]), _integer(pending[2]), _boolean(pending[3])),
            )
        reader._count = _integer(fields["count"])
        reader._next_start = _integer(fields["next_start"])
        header_length = _integer(fields["header_length"])
        if header_length > MAX_HEADER_BYTES or len(raw) - header_length > MAX_BUFFERED_BYTES:
            raise ValueError("buffers larger than the reader keeps")
        reader._header = bytearray(raw[:header_length])
        reader._body = bytearray(raw[header_length:])
        return reader


def _integer(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError("expected a natural number")
    return value


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError("expected a boolean")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value
