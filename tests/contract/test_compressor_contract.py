"""Contract of the `Compressor` port: none, zstd and lz4, including decompression bombs."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import get_args

import lz4.frame
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from lucid_sessions.adapters.zstd_lz4.compressor import ZstdLz4Compressor
from lucid_sessions.domain.errors import IntegrityError, InvalidValue
from lucid_sessions.domain.ports.compressor import Algorithm, Compressor

ALGORITHMS: tuple[Algorithm, ...] = get_args(Algorithm)
COMPRESSING: tuple[Algorithm, ...] = ("zstd", "lz4")
TEXT = b"frame 0001 mouse 12,40 key A " * 400
BOMB_SIZE = 256 << 20  # what the bombs below expand to
ZEROS = bytes(1 << 20)


@pytest.fixture(scope="module")
def compressor() -> Compressor:
    return ZstdLz4Compressor()


@pytest.fixture(params=ALGORITHMS)
def algorithm(request: pytest.FixtureRequest) -> Algorithm:
    return request.param  # type: ignore[no-any-return]


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=4096), algorithm=st.sampled_from(ALGORITHMS))
def test_round_trip(data: bytes, algorithm: Algorithm) -> None:
    compressor = ZstdLz4Compressor()
    packed = compressor.compress(algorithm, data, None)
    assert compressor.decompress(algorithm, packed, len(data)) == data


def test_repetitive_data_shrinks(compressor: Compressor, algorithm: Algorithm) -> None:
    packed = compressor.compress(algorithm, TEXT, None)
    if algorithm == "none":
        assert packed == TEXT
    else:
        assert len(packed) < len(TEXT) // 10
    assert compressor.decompress(algorithm, packed, len(TEXT)) == TEXT


def test_empty_input(compressor: Compressor, algorithm: Algorithm) -> None:
    packed = compressor.compress(algorithm, b"", None)
    assert compressor.decompress(algorithm, packed, 0) == b""


@pytest.mark.parametrize(("algorithm", "level"), [("zstd", 1), ("zstd", 22), ("lz4", 16)])
def test_every_level_in_range_round_trips(
    compressor: Compressor, algorithm: Algorithm, level: int
) -> None:
    packed = compressor.compress(algorithm, TEXT, level)
    assert compressor.decompress(algorithm, packed, len(TEXT)) == TEXT


@pytest.mark.parametrize(
    ("algorithm", "level"), [("zstd", 0), ("zstd", 23), ("lz4", -1), ("lz4", 17)]
)
def test_level_out_of_range_is_invalid(
    compressor: Compressor, algorithm: Algorithm, level: int
) -> None:
    with pytest.raises(InvalidValue) as caught:
        compressor.compress(algorithm, TEXT, level)
    assert caught.value.field == "recording_config.compression_level"


def test_unknown_algorithm_is_invalid(compressor: Compressor) -> None:
    with pytest.raises(InvalidValue):
        compressor.compress("brotli", TEXT, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("delta", [-1, 1, 1000])
def test_wrong_original_size_fails(
    compressor: Compressor, algorithm: Algorithm, delta: int
) -> None:
    packed = compressor.compress(algorithm, TEXT, None)
    with pytest.raises(IntegrityError):
        compressor.decompress(algorithm, packed, len(TEXT) + delta)


@pytest.mark.parametrize("algorithm", COMPRESSING)
@pytest.mark.parametrize("garbage", [b"", b"\x00", b"not a frame at all", bytes(range(256)) * 4])
def test_garbage_fails(compressor: Compressor, algorithm: Algorithm, garbage: bytes) -> None:
    with pytest.raises(IntegrityError):
        compressor.decompress(algorithm, garbage, 100)


@pytest.mark.parametrize("algorithm", COMPRESSING)
def test_truncated_or_extended_frame_fails(compressor: Compressor, algorithm: Algorithm) -> None:
    packed = compressor.compress(algorithm, TEXT, None)
    for bad in (packed[:-1], packed[: len(packed) // 2], packed + b"\x00", packed + packed):
        with pytest.raises(IntegrityError):
            compressor.decompress(algorithm, bad, len(TEXT))


@pytest.mark.parametrize(
    ("algorithm", "packed"),
    [
        ("zstd", zstandard.ZstdCompressor(write_content_size=False).compress(TEXT)),
        ("lz4", lz4.frame.compress(TEXT, store_size=False)),
    ],
)
def test_frame_without_a_stored_size_round_trips(
    compressor: Compressor, algorithm: Algorithm, packed: bytes
) -> None:
    assert compressor.decompress(algorithm, packed, len(TEXT)) == TEXT
    with pytest.raises(IntegrityError):
        compressor.decompress(algorithm, packed, len(TEXT) - 1)


def _zstd_bomb(*, declare_size: bool) -> bytes:
    context = zstandard.ZstdCompressor(level=1, write_content_size=declare_size)
    stream = context.compressobj(size=BOMB_SIZE if declare_size else -1)
    parts = [stream.compress(ZEROS) for _ in range(BOMB_SIZE // len(ZEROS))]
    return b"".join([*parts, stream.flush()])


def _lz4_bomb(*, declare_size: bool) -> bytes:
    context = lz4.frame.LZ4FrameCompressor()
    size = BOMB_SIZE if declare_size else 0
    parts = [context.begin(source_size=size)]
    parts += [context.compress(ZEROS) for _ in range(BOMB_SIZE // len(ZEROS))]
    return b"".join([*parts, context.flush()])


BOMBS = {
    ("zstd", True): lambda: _zstd_bomb(declare_size=True),
    ("zstd", False): lambda: _zstd_bomb(declare_size=False),
    ("lz4", True): lambda: _lz4_bomb(declare_size=True),
    ("lz4", False): lambda: _lz4_bomb(declare_size=False),
}


@pytest.fixture(scope="module", params=sorted(BOMBS), ids=lambda key: f"{key[0]}-declared={key[1]}")
def bomb(request: pytest.FixtureRequest) -> tuple[Algorithm, bytes]:
    algorithm, declared = request.param
    return algorithm, BOMBS[(algorithm, declared)]()


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    yield
    tracemalloc.stop()


def test_bomb_is_refused_without_allocating_its_size(
    compressor: Compressor, bomb: tuple[Algorithm, bytes], traced: None
) -> None:
    algorithm, payload = bomb
    assert len(payload) < 2 << 20  # tiny input ...
    tracemalloc.reset_peak()
    with pytest.raises(IntegrityError, match="4096"):
        compressor.decompress(algorithm, payload, 4096)  # ... that claims 4 KiB
    _, peak = tracemalloc.get_traced_memory()
    assert peak < 8 << 20, f"decompression allocated {peak} bytes"


def test_compressor_is_safe_to_share_between_threads(compressor: Compressor) -> None:
    inputs = [bytes([n]) * 20_000 + TEXT for n in range(32)]

    def round_trip(data: bytes) -> bool:
        packed = compressor.compress("zstd", data, 5)
        return compressor.decompress("zstd", packed, len(data)) == data

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(round_trip, inputs))


@pytest.mark.parametrize("algorithm", COMPRESSING)
@pytest.mark.parametrize("piece", [1, 4096, 65536, 1 << 20])
def test_a_stream_makes_a_frame_that_decompresses(
    compressor: Compressor, algorithm: Algorithm, piece: int
) -> None:
    data = TEXT * 3 + bytes(range(256)) * 50
    stream = compressor.stream(algorithm, None, len(data))
    view = memoryview(data)
    frame = b"".join(stream.compress(view[i : i + piece]) for i in range(0, len(data), piece))
    frame += stream.flush()
    assert len(frame) < len(data)
    assert compressor.decompress(algorithm, frame, len(data)) == data
    with pytest.raises(IntegrityError):
        compressor.decompress(algorithm, frame, len(data) + 1)


@pytest.mark.parametrize("algorithm", COMPRESSING)
def test_a_stream_of_nothing_is_an_empty_frame(
    compressor: Compressor, algorithm: Algorithm
) -> None:
    stream = compressor.stream(algorithm, None, 0)
    assert compressor.decompress(algorithm, stream.flush(), 0) == b""


def test_streams_check_levels_and_algorithms(compressor: Compressor) -> None:
    with pytest.raises(InvalidValue):
        compressor.stream("zstd", 99, 10)
    with pytest.raises(InvalidValue):
        compressor.stream("none", None, 10)
    with pytest.raises(InvalidValue):
        compressor.stream("brotli", None, 10)  # type: ignore[arg-type]
