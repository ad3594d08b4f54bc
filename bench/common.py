"""Shared pieces of the benchmarks: screen-like data, a real server, RSS sampling, the codec.

Not a benchmark itself; ``bench_ingest.py`` and ``bench_download.py`` import it.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.servers
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # as bench_merkle.py

import httpx
from tests.servers import ADMIN_TOKEN, ServiceProcess, bearer

from lucid_sessions.adapters.crypto import (
    AesGcmCipher,
    ChaCha20Poly1305Cipher,
    StaticKeyRing,
    default_cipher_name,
)
from lucid_sessions.adapters.zstd_lz4.compressor import ZstdLz4Compressor
from lucid_sessions.app.blob_codec import BlobCodec
from lucid_sessions.domain.ports.cipher import CipherName

__all__ = [
    "CHUNK_BYTES",
    "MIB",
    "UNBOUNDED",
    "RssSampler",
    "codec_and_keyring",
    "cpu_seconds",
    "create_recording_session",
    "helper_server",
    "http_client",
    "marker",
    "rss_kib",
    "running_server",
    "screen_chunks",
    "upload",
]

UNBOUNDED = [sys.executable, str(Path(__file__).resolve().parent / "unbounded_serve.py")]
"""A launcher that serves the service with uvicorn's own httptools protocol: the baseline of
the limits before the app."""

MIB = 1 << 20
CHUNK_BYTES = 8 * MIB
SEED = 20240603

# -- screen-like data ---------------------------------------------------------------------------

WIDTH, HEIGHT, BPP = 1920, 1080, 4  # BGRA desktop frames, 7.9 MiB each
GLYPH_W, GLYPH_H = 8, 16


def _pixel(rng: random.Random) -> bytes:
    return bytes((rng.randrange(256), rng.randrange(256), rng.randrange(256), 255))


def _glyphs(rng: random.Random, fg: bytes, bg: bytes, count: int = 96) -> list[list[bytes]]:
    """`count` text-like 8x16 glyphs in fg on bg; each glyph is its 16 pixel rows."""
    glyphs: list[list[bytes]] = []
    for _ in range(count):
        rows: list[bytes] = []
        for y in range(GLYPH_H):
            if y < 3 or y > 13:  # line spacing
                rows.append(bg * GLYPH_W)
                continue
            bits = rng.getrandbits(GLYPH_W) & rng.getrandbits(GLYPH_W) | rng.getrandbits(2)
            rows.append(b"".join(fg if bits >> x & 1 else bg for x in range(GLYPH_W)))
        glyphs.append(rows)
    glyphs[0] = [bg * GLYPH_W] * GLYPH_H  # the space
    return glyphs


@dataclass
class _Window:
    x: int
    y: int
    w: int
    h: int
    bg: bytes
    glyphs: list[list[bytes]]
    title: bytes


class _Desktop:
    """A deterministic desktop: wallpaper gradient, windows with text, a photo, a clock."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        rng = self.rng
        self.wallpaper = [
            b"".join(
                bytes(((x // 16 + y // 8) % 256, (y // 5) % 256, 90 + (x // 64) % 40, 255)) * 16
                for x in range(0, WIDTH, 16)
            )
            for y in range(HEIGHT)
        ]
        self.windows: list[_Window] = []
        for _ in range(4):
            w, h = rng.randrange(500, 1100), rng.randrange(300, 700)
            x, y = rng.randrange(0, WIDTH - w), rng.randrange(30, HEIGHT - h)
            bg = _pixel(rng)
            fg = _pixel(rng)
            self.windows.append(_Window(x, y, w, h, bg, _glyphs(rng, fg, bg), _pixel(rng)))
        self.photo = (rng.randrange(0, WIDTH - 640), rng.randrange(0, HEIGHT - 400), 640, 400)

    def frame(self) -> bytes:
        rng = self.rng
        canvas = bytearray(b"".join(self.wallpaper))
        stride = WIDTH * BPP
        for window in self.windows:
            # windows drift a little and their text scrolls between frames
            window.x = min(max(window.x + rng.randrange(-8, 9), 0), WIDTH - window.w)
            window.y = min(max(window.y + rng.randrange(-4, 5), 30), HEIGHT - window.h)
            x, y, w, h = window.x, window.y, window.w, window.h
            bg, glyphs, title = window.bg, window.glyphs, window.title
            columns = w // GLYPH_W
            for row in range(y, y + 24):  # title bar
                canvas[row * stride + x * BPP : row * stride + (x + w) * BPP] = title * w
            for line_top in range(y + 24, y + h - GLYPH_H, GLYPH_H):
                if rng.random() < 0.25:  # blank line
                    text = [glyphs[0]] * columns
                else:
                    text = [
                        glyphs[rng.randrange(1, len(glyphs))] if rng.random() < 0.8 else glyphs[0]
                        for _ in range(columns)
                    ]
                for gy in range(GLYPH_H):
                    offset = (line_top + gy) * stride + x * BPP
                    line = b"".join(glyph[gy] for glyph in text)
                    canvas[offset : offset + len(line)] = line
                    pad = (w - columns * GLYPH_W) * BPP
                    canvas[offset + len(line) : offset + len(line) + pad] = bg * (pad // BPP)
        px, py, pw, ph = self.photo  # a photo / video region: noisy, barely compressible
        for row in range(py, py + ph):
            noise = rng.randbytes(pw * BPP)
            canvas[row * stride + px * BPP : row * stride + (px + pw) * BPP] = noise
        clock = rng.randbytes(120 * BPP)  # a changing clock in the task bar
        for row in range(HEIGHT - 20, HEIGHT - 4):
            canvas[row * stride + (WIDTH - 130) * BPP : row * stride + (WIDTH - 10) * BPP] = clock
        return bytes(canvas)


def screen_chunks(count: int, seed: int = SEED, size: int = CHUNK_BYTES) -> list[bytes]:
    """`count` chunks of `size` bytes cut from a stream of deterministic desktop frames."""
    desktop = _Desktop(seed)
    stream = bytearray()
    chunks: list[bytes] = []
    while len(chunks) < count:
        while len(stream) < size:
            stream += desktop.frame()
        chunks.append(bytes(stream[:size]))
        del stream[:size]
    return chunks


# -- the in-process pipeline ------------------------------------------------------------------


def codec_and_keyring() -> tuple[BlobCodec, StaticKeyRing, CipherName]:
    """The server's codec (same compressor, ciphers and default cipher), on a fresh key ring."""
    keyring = StaticKeyRing({"k1": os.urandom(32)}, "k1")
    codec = BlobCodec(
        ZstdLz4Compressor(),
        {"aes-256-gcm": AesGcmCipher(), "chacha20-poly1305": ChaCha20Poly1305Cipher()},
        keyring,
    )
    return codec, keyring, default_cipher_name()


# -- a real server --------------------------------------------------------------------------


@contextmanager
def running_server(
    data_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    launcher: list[str] | None = None,
) -> Iterator[ServiceProcess]:
    """`lucid-sessions serve` on a free 127.0.0.1 port with LOG_LEVEL=WARNING (`launcher`:
    put before the command, e.g. `UNBOUNDED`)."""
    with tempfile.TemporaryDirectory(prefix="lucid-bench-") as scratch:
        folder = data_dir or Path(scratch)
        server = ServiceProcess(
            folder, env={"LOG_LEVEL": "WARNING", **(env or {})}, launcher=launcher or []
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()


@contextmanager
def helper_server(
    command: list[str], port: int, name: str, env: Mapping[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """A helper server of the benchmarks (`command`, listening on 127.0.0.1:`port`) once its
    `/health` answers: (url, pid); stopped on the way out."""
    process = subprocess.Popen(command, env=None if env is None else dict(env))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1.0).raise_for_status()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{name} did not start") from None
                time.sleep(0.05)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=15)


def create_recording_session(client: httpx.Client, name: str) -> str:
    created = client.post("/api/v1/sessions", json={"name": name, "rdp_config": {"host": "h"}})
    created.raise_for_status()
    session_id = str(created.json()["session_id"])
    client.post(f"/api/v1/sessions/{session_id}/start").raise_for_status()
    return session_id


def upload(client: httpx.Client, session_id: str, sequence: int, data: bytes) -> None:
    response = client.put(
        f"/api/v1/sessions/{session_id}/chunks/{sequence}",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    if response.status_code != 201:
        raise RuntimeError(f"upload {sequence}: {response.status_code} {response.text[:300]}")


def http_client(url: str) -> httpx.Client:
    """A keep-alive client with the test servers' admin token; one per thread."""
    return httpx.Client(
        base_url=url,
        timeout=120.0,
        limits=httpx.Limits(max_connections=1),
        headers=bearer(ADMIN_TOKEN),
    )


# -- memory ---------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all threads, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not found for pid {pid}")


class RssSampler:
    """Samples a process's VmRSS every `interval` seconds in a thread; `peak` in KiB.

    The high-water mark VmHWM cannot be reset, but when it rises during the run it is the
    exact peak, and it replaces the sampled one."""

    def __init__(self, pid: int, interval: float = 0.002) -> None:
        self.pid, self.interval = pid, interval
        self.hwm_before = rss_kib(pid, "VmHWM")
        self.before = rss_kib(pid)
        self.peak = self.before
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            self.samples += 1
            time.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kib(self.pid))
        self.after = rss_kib(self.pid)
        hwm_after = rss_kib(self.pid, "VmHWM")
        if hwm_after > self.hwm_before:
            # The high-water mark moved during the run, so it is the exact peak, including
            # any spike shorter than the sampling interval.
            self.peak = max(self.peak, hwm_after)
            self.exact = True

    exact = False
    """True when the kernel's VmHWM confirmed the peak; False: sampled (a lower bound)."""

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.before) / 1024


def marker(ok: bool) -> str:
    return "PASS" if ok else "MISS"
