"""Port: compression of chunk bytes (decompression bounded by the expected size)."""

from __future__ import annotations

import abc
from typing import Literal, Protocol

__all__ = ["Algorithm", "Compressor"]

Algorithm = Literal["none", "zstd", "lz4"]
"""Compression algorithm names, as they appear in `recording_config.compression`."""


class Compressor(Protocol):
    """Compresses chunk bytes; decompression is bounded by the size the caller expects."""

    @abc.abstractmethod
    def compress(self, algorithm: Algorithm, data: bytes, level: int | None) -> bytes:
        """Compress `data`; `level=None` picks the algorithm's default.

        Raises `InvalidValue` for an unknown algorithm or a level out of its range.
        """

    @abc.abstractmethod
    def decompress(self, algorithm: Algorithm, data: bytes, original_size: int) -> bytes:
        """Return exactly `original_size` bytes.

        Raises `IntegrityError` when `data` is malformed or does not expand to exactly
        `original_size` bytes. Never allocates more than about `original_size` bytes of output,
        whatever `data` claims (decompression-bomb safe).
        """
