"""Benchmark of the defaults the codec chooses: compression level and cipher.

Run as ``python bench/bench_codec.py``; ``bench/run.py`` imports ``run()``. On the screen-like
8 MiB chunks of the other benchmarks, in this process, single-threaded: MiB/s of original
bytes and the compression ratio of zstd at levels 1, 3 and 6 and lz4 at its default level,
against zstd at the service's default level (the baseline); and sealing 8 MiB with AES-256-GCM
and ChaCha20-Poly1305 (the cipher `auto` picks is the baseline). These figures chose the
defaults (docs/performance.md); they have no goal of their own.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # common, figures
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.servers
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # lucid_sessions

from common import MIB, screen_chunks
from figures import Figure, best_of, summarize
from lucid_sessions.adapters.crypto import AesGcmCipher, ChaCha20Poly1305Cipher, default_cipher_name
from lucid_sessions.adapters.zstd_lz4.compressor import (
    LZ4_DEFAULT_LEVEL,
    ZSTD_DEFAULT_LEVEL,
    ZstdLz4Compressor,
)
from lucid_sessions.domain.ports.compressor import Algorithm

__all__ = ["run"]

CHUNKS, TINY_CHUNKS = 8, 1


def run(_env: Mapping[str, str] | None = None, tiny: bool = False) -> list[Figure]:
    chunks = screen_chunks(TINY_CHUNKS if tiny else CHUNKS, size=MIB if tiny else 8 * MIB)
    total = sum(map(len, chunks)) / MIB
    compressor = ZstdLz4Compressor()

    def compress(algorithm: Algorithm, level: int) -> tuple[float, float]:
        outputs: list[bytes] = []

        def work() -> None:
            outputs[:] = [compressor.compress(algorithm, data, level) for data in chunks]

        seconds = best_of(work)
        return total / seconds, total * MIB / sum(map(len, outputs))

    baseline_name = f"codec.zstd_{ZSTD_DEFAULT_LEVEL}"
    figures = []
    levels = [("zstd", ZSTD_DEFAULT_LEVEL)] + [
        ("zstd", level) for level in (1, 3, 6) if level != ZSTD_DEFAULT_LEVEL
    ]
    for algorithm, level in [*levels, ("lz4", LZ4_DEFAULT_LEVEL)]:
        rate, ratio = compress(algorithm, level)  # type: ignore[arg-type]
        name = f"codec.{algorithm}_{level}"
        figures.append(
            Figure(
                name,
                rate,
                "MiB/s",
                None if name == baseline_name else baseline_name,
                note=f"compression ratio {ratio:.2f}x"
                + (" (the service's default level)" if name == baseline_name else ""),
            )
        )
    key, aad = os.urandom(32), b"session and sequence"
    payload = chunks[0]
    default = f"codec.seal_{default_cipher_name()}"
    ciphers = [("aes-256-gcm", AesGcmCipher()), ("chacha20-poly1305", ChaCha20Poly1305Cipher())]
    ciphers.sort(key=lambda pair: f"codec.seal_{pair[0]}" != default)
    for name, cipher in ciphers:
        seconds = best_of(lambda c=cipher: c.seal(key, payload, aad))  # type: ignore[misc]
        figures.append(
            Figure(
                f"codec.seal_{name}",
                len(payload) / MIB / seconds,
                "MiB/s",
                None if f"codec.seal_{name}" == default else default,
                note="what LUCID_CIPHER=auto picks here" if f"codec.seal_{name}" == default else "",
            )
        )
    figures.sort(
        key=lambda figure: not figure.name.startswith("codec.seal") or figure.name != default
    )
    return figures


if __name__ == "__main__":
    print("\n".join(summarize([run()])))
