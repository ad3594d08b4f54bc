"""Port: compression of chunk bytes (decompression bounded by the expected size)."""

from __future__ import annotations

import abc
from typing import Literal, Protocol

__all__ = ["Algorithm", "CompressionStream", "Compressor"]

Algorithm = Literal["none", "zstd", "lz4"]
"""Compression algorithm names, as they appear in `recording_config.compression`."""


class CompressionStream(Protocol):
    """One frame compressed piece by piece (the bytes arrive over the network meanwhile)."""

    @abc.abstractmethod
    def compress(self, piece: bytes | memoryview) -> bytes:
        """Compressed output so far (may be empty); the piece is not kept."""

    @abc.abstractmethod
    def flush(self) -> bytes:
        """The rest of the frame; the stream is done."""


class Compressor(Protocol):
    """Compresses chunk bytes; decompression is bounded by the size the caller expects."""

    @abc.abstractmethod
    def compress(self, algorithm: Algorithm, data: bytes, level: int | None) -> bytes:
        """Compress `data`; `level=None` picks the algorithm's default.

        Raises `InvalidValue` for an unknown algorithm or a level out of its range.
        """

    @abc.abstractmethod
    def stream(self, algorithm: Algorithm, level: int | None, size: int) -> CompressionStream:
        """A stream of exactly `size` bytes producing the frame `compress` would (the size is
        stored in it, and sizes the compression window, so `decompress` accepts it alike).
        `algorithm` "none" is not streamed. Raises like `compress`.
        """

    @abc.abstractmethod
    def decompress(self, algorithm: Algorithm, data: bytes, original_size: int) -> bytes:
        """Return exactly `original_size` bytes.

        Raises `IntegrityError` when `data` is malformed or does not expand to exactly
        `original_size` bytes. Never allocates more than about `original_size` bytes of output,
        whatever `data` claims (decompression-bomb safe).
        """
