"""Test recordings made with PyAV: fragmented MP4 as ffmpeg writes it for live upload.

Every frame of second ``n`` of a generated video is one solid colour, `colour_at(n)`, so a test
that decodes the recording (or a stream served from it) can tell which second it sees. The
colours are far apart (primaries, secondaries, black, white, greys...), so they survive
compression. Encoding takes time: the generators cache their bytes.
"""

from __future__ import annotations

import array
import io
import math
import random
import tempfile
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av

__all__ = [
    "COLOURS",
    "OPUS_RATE",
    "colour_at",
    "cut_unevenly",
    "decoded_colours",
    "fragmented_mp4",
    "nearest_colour",
    "progressive_mp4",
]

FRAGMENTED = "frag_keyframe+empty_moov+default_base_moof"
OPUS_RATE = 48_000
OPUS_FRAME = 960  # 20 ms
TONE_HZ = 440

COLOURS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0),
    (0, 255, 0),
    (0, 0, 255),
    (255, 255, 255),
    (0, 0, 0),
    (255, 255, 0),
    (0, 255, 255),
    (255, 0, 255),
)


def colour_at(second: int) -> tuple[int, int, int]:
    """The RGB colour of every frame of second `second` of a generated video."""
    return COLOURS[second % len(COLOURS)]


def nearest_colour(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """The colour of `COLOURS` closest to `rgb` (decoded colours are a little off)."""
    return min(
        COLOURS, key=lambda colour: sum((a - b) ** 2 for a, b in zip(colour, rgb, strict=True))
    )


def _solid_frame(width: int, height: int, rgb: tuple[int, int, int]) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "rgb24")
    plane = frame.planes[0]
    row = bytes(rgb) * width
    padding = bytes(plane.line_size - len(row))
    plane.update((row + padding) * height)
    return frame.reformat(format="yuv420p")


def _tone(first_sample: int) -> av.AudioFrame:
    """One 20 ms Opus frame of a 440 Hz tone, mono, 16-bit."""
    samples = array.array(
        "h",
        (
            int(8000 * math.sin(2 * math.pi * TONE_HZ * (first_sample + k) / OPUS_RATE))
            for k in range(OPUS_FRAME)
        ),
    )
    frame = av.AudioFrame(format="s16", layout="mono", samples=OPUS_FRAME)
    frame.sample_rate = OPUS_RATE
    frame.pts = first_sample
    frame.planes[0].update(samples.tobytes())
    return frame


def _encode(
    movflags: str,
    seconds: int,
    fps: int,
    keyframe_seconds: int,
    size: tuple[int, int],
    audio: bool,
    colours: tuple[tuple[int, int, int], ...] | None,
) -> bytes:
    """Encode to a file: ``+faststart`` rewrites the file by name once it is written."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "recording.mp4"
        _write(path, movflags, seconds, fps, keyframe_seconds, size, audio, colours)
        return path.read_bytes()


def _write(
    path: Path,
    movflags: str,
    seconds: int,
    fps: int,
    keyframe_seconds: int,
    size: tuple[int, int],
    audio: bool,
    colours: tuple[tuple[int, int, int], ...] | None,
) -> None:
    width, height = size
    with av.open(str(path), "w", format="mp4", options={"movflags": movflags}) as output:
        gop = str(fps * keyframe_seconds)
        video = output.add_stream(
            "libx264",
            rate=fps,
            options={"preset": "ultrafast", "g": gop, "keyint_min": gop, "sc_threshold": "0"},
        )
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = output.add_stream("libopus", rate=OPUS_RATE, layout="mono") if audio else None
        frames = {}
        next_sample = 0
        for index in range(seconds * fps):
            second = index // fps
            rgb = colours[second % len(colours)] if colours else colour_at(second)
            if rgb not in frames:
                frames[rgb] = _solid_frame(width, height, rgb)
            frame = frames[rgb]
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            output.mux(video.encode(frame))
            while sound is not None and next_sample < (index + 1) * OPUS_RATE // fps:
                output.mux(sound.encode(_tone(next_sample)))
                next_sample += OPUS_FRAME
        output.mux(video.encode(None))
        if sound is not None:
            output.mux(sound.encode(None))


@lru_cache(maxsize=32)
def fragmented_mp4(
    seconds: int,
    *,
    fps: int = 30,
    keyframe_seconds: int = 2,
    size: tuple[int, int] = (320, 240),
    audio: bool = False,
    colours: tuple[tuple[int, int, int], ...] | None = None,
) -> bytes:
    """A fragmented MP4 (``ftyp``, ``moov`` with ``mvex``, ``moof``+``mdat``..., ``mfra``) of
    H.264 video, a keyframe and a fragment every `keyframe_seconds`; each second one solid
    colour (`colours` cycled, else `colour_at`). `audio` adds an Opus track of a tone."""
    return _encode(FRAGMENTED, seconds, fps, keyframe_seconds, size, audio, colours)


@lru_cache(maxsize=8)
def progressive_mp4(
    seconds: int,
    *,
    fps: int = 30,
    size: tuple[int, int] = (320, 240),
    audio: bool = False,
) -> bytes:
    """The same video as an ordinary (progressive, ``+faststart``) MP4: not fragmented."""
    return _encode("+faststart", seconds, fps, 2, size, audio, None)


def cut_unevenly(data: bytes, seed: int) -> list[bytes]:
    """`data` cut into pieces of uneven sizes, the same for the same `seed`: many tiny pieces
    (1 to 7 bytes, which split box headers) between larger ones."""
    chooser = random.Random(seed)
    pieces = []
    at = 0
    while at < len(data):
        size = chooser.choice(
            [1, 2, 3, 5, 7, chooser.randint(8, 64), chooser.randint(64, 4096), 16_384]
        )
        pieces.append(data[at : at + size])
        at += size
    return pieces


def decoded_colours(data: bytes) -> list[tuple[float, tuple[int, int, int]]]:
    """Decode a recording's video: (time in seconds, RGB of the centre pixel) per frame."""
    result = []
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            image = frame.to_rgb()
            plane = image.planes[0]
            row, column = image.height // 2, image.width // 2
            at = row * plane.line_size + column * 3
            pixel = bytes(plane)[at : at + 3]
            assert frame.time is not None
            result.append((frame.time, (pixel[0], pixel[1], pixel[2])))
    return result
