"""Benchmark of keys in a PKCS#11 token against the file key ring: ingest and download.

Run as ``python bench/bench_keys.py``; ``bench/run.py keys`` imports ``run()`` instead.

The bench makes its own SoftHSM2 token in a temporary folder (the way tests/softhsm.py does),
then, in the same run, starts a real ``lucid-sessions serve`` three times on fresh data (the
three servers run side by side, idle but for the one measured, and the rounds alternate
between them):

- ``file``: the master and signing keys in files (the baseline);
- ``token``: the keys in the token, with the data key cache (the default);
- ``token_uncached``: the keys in the token, the cache off (LUCID_DATA_KEY_CACHE_ENTRIES=0),
  so every chunk sealed or opened asks the token to unwrap the session's data key.

Each uploads ``CHUNKS`` screen-like chunks of ``CHUNK_SIZE`` (smaller than the usual 8 MiB, so
a per-chunk cost shows) into a new session and downloads the recording, best of ``ROUNDS``
rounds; the goal is a token at 0.95 of the file ring's throughput or more. In this process,
the cost of one ``unwrap`` on each ring, with and without the cache, shows where the time goes
(and why the file ring needs none).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # common, the other benchmarks
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.servers, tests.softhsm
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # lucid_sessions

from tests.servers import ServiceProcess
from tests.softhsm import SoftHsm, start_softhsm

from common import MIB, create_recording_session, http_client, screen_chunks, upload
from figures import Figure, at_least, best_of, summarize
from lucid_sessions.adapters.crypto.cached_keyring import CachedKeyRing
from lucid_sessions.adapters.crypto.keyring import StaticKeyRing
from lucid_sessions.domain.ports.keyring import KeyRing

__all__ = ["run"]

CHUNKS = 64
CHUNK_SIZE = 512 * 1024  # 32 MiB per server
ROUNDS = 5
UNWRAPS = 2000
TARGET_RATIO = 0.95


_OPEN = contextlib.ExitStack()
atexit.register(_OPEN.close)
_HSM: list[SoftHsm] = []


def _softhsm() -> SoftHsm:
    """The process's SoftHSM2 of the bench's own, made on first use and removed at exit
    (SOFTHSM2_CONF set for this process and its servers). One per process: the module reads
    its configuration once, when it is loaded. Each run takes three of its spare tokens."""
    if not _HSM:
        folder = _OPEN.enter_context(tempfile.TemporaryDirectory(prefix="lucid-bench-softhsm-"))
        _HSM.append(_OPEN.enter_context(contextlib.contextmanager(start_softhsm)(Path(folder))))
    return _HSM[0]


def _token_env(hsm: SoftHsm, label: str) -> dict[str, str]:
    token = hsm.fresh_token()
    return {
        "LUCID_KEY_STORE": "pkcs11",
        "LUCID_PKCS11_MODULE": token.module,
        "LUCID_PKCS11_TOKEN_LABEL": token.token_label,
        "LUCID_PKCS11_PIN_FILE": str(token.pin_file),
    } | ({"LUCID_DATA_KEY_CACHE_ENTRIES": "0"} if label == "token_uncached" else {})


def _measure(server: ServiceProcess, chunks: list[bytes], name: str) -> tuple[float, float]:
    """Seconds to upload `chunks` into a new session of `server`, and to download them."""
    total = sum(len(data) for data in chunks)
    with http_client(server.url) as client:
        sid = create_recording_session(client, name)
        started = time.perf_counter()
        for sequence, data in enumerate(chunks):
            upload(client, sid, sequence, data)
        ingest = time.perf_counter() - started
        started = time.perf_counter()
        got = client.get(f"/api/v1/sessions/{sid}/recording")
        download = time.perf_counter() - started
    if got.status_code != 200 or len(got.content) != total:
        raise RuntimeError(f"download: {got.status_code} {got.text[:300]}")
    return ingest, download


def _throughputs(
    envs: Mapping[str, Mapping[str, str]], chunks: list[bytes], rounds: int = ROUNDS
) -> dict[str, tuple[float, float]]:
    """Ingest and download MiB/s of each configuration, its server started once on fresh
    data; the rounds alternate between the servers (a slow moment of the machine falls on
    all of them), a new session each, and each figure is the best of ROUNDS."""
    total = sum(len(data) for data in chunks) / MIB
    best = {label: [float("inf"), float("inf")] for label in envs}
    with contextlib.ExitStack() as stack:
        servers = {}
        for label, env in envs.items():
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="lucid-bench-keys-"))
            server = ServiceProcess(Path(folder), env=env)
            server.start()
            stack.callback(server.stop)
            servers[label] = server
        for round_ in range(rounds):
            for label, server in servers.items():
                ingest, download = _measure(server, chunks, f"keys-{label}-{round_}")
                best[label][0] = min(best[label][0], ingest)
                best[label][1] = min(best[label][1], download)
    return {label: (total / ingest, total / download) for label, (ingest, download) in best.items()}


def _unwrap_us(ring: KeyRing, count: int) -> float:
    _, wrapped = ring.new_data_key()
    ring.unwrap(wrapped)
    seconds = best_of(lambda: [ring.unwrap(wrapped) for _ in range(count)])
    return seconds / count * 1e6


def _unwrap_figures(hsm: SoftHsm, count: int) -> list[Figure]:
    from lucid_sessions.adapters.pkcs11.keyring import Pkcs11KeyRing

    token = hsm.fresh_token()
    in_token = Pkcs11KeyRing(token.module, token.token_label, token.pin, create=True)
    in_file = StaticKeyRing({"k1": os.urandom(32)}, "k1")
    rings: dict[str, KeyRing] = {
        "file": in_file,
        "file_cached": CachedKeyRing(in_file, max_entries=256, ttl_seconds=300.0),
        "token_uncached": in_token,
        "token": CachedKeyRing(in_token, max_entries=256, ttl_seconds=300.0),
    }
    return [
        Figure(
            f"keys.unwrap_{name}",
            _unwrap_us(ring, count),
            "us per data key",
            baseline=None if name == "file" else "keys.unwrap_file",
        )
        for name, ring in rings.items()
    ]


def run(server_env: Mapping[str, str] | None = None, tiny: bool = False) -> list[Figure]:
    """One run's figures; `server_env` adds environment variables to the servers."""
    count, size = (2, 64 * 1024) if tiny else (CHUNKS, CHUNK_SIZE)
    chunks = screen_chunks(count, size=size)
    figures: list[Figure] = []
    hsm = _softhsm()
    base = {"LOG_LEVEL": "WARNING", **(server_env or {})}
    envs = {
        label: base if label == "file" else base | _token_env(hsm, label)
        for label in ("file", "token", "token_uncached")
    }
    measured = _throughputs(envs, chunks, 1 if tiny else ROUNDS)
    for label, (ingest, download) in measured.items():
        baseline = label != "file"
        figures.append(
            Figure(
                f"keys.ingest_{label}",
                ingest,
                "MiB/s",
                baseline="keys.ingest_file" if baseline else None,
                target=at_least(TARGET_RATIO) if baseline else None,
            )
        )
        figures.append(
            Figure(
                f"keys.download_{label}",
                download,
                "MiB/s",
                baseline="keys.download_file" if baseline else None,
                target=at_least(TARGET_RATIO) if baseline else None,
            )
        )
    figures += _unwrap_figures(hsm, 50 if tiny else UNWRAPS)
    return figures


def main() -> int:
    for line in summarize([run()]):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
