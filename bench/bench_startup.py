"""Start-up benchmark: from launching the process to the first healthy answer, and the idle
resident memory after it, for ``lucid-sessions serve`` on an existing embedded store against
the minimal Litestar app of ``bench/minimal_app.py`` (the baseline, same run). Neither is
pinned to a core: start-up is the whole machine's.

Run as ``python bench/bench_startup.py``; ``bench/run.py`` imports ``run()``. Targets:
healthy in < 0.6 s, idle RSS < 64 MiB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # common, figures, bench_api
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.servers
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # lucid_sessions

import httpx
from tests.servers import ServiceProcess, free_port, lucid_sessions_command

from bench_api import MINIMAL_APP
from common import rss_kib
from figures import Figure, below, summarize

__all__ = ["run"]

TARGET_SECONDS = 0.6
TARGET_RSS_MIB = 64
STARTS, TINY_STARTS = 3, 1
IDLE_SECONDS = 1.0


def _start(command: Sequence[str], env: Mapping[str, str], port: int) -> tuple[float, float]:
    """(seconds to the first 200 from /health, RSS in MiB after IDLE_SECONDS idle)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with httpx.Client(timeout=1.0) as client:
            while True:
                try:
                    if client.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None:
                    raise RuntimeError(f"{command[0]} exited with {process.returncode}")
                if time.perf_counter() - started > 30:
                    raise RuntimeError(f"{command} did not become healthy in 30 s")
                time.sleep(0.005)
        seconds = time.perf_counter() - started
        time.sleep(IDLE_SECONDS)
        return seconds, rss_kib(process.pid) / 1024
    finally:
        process.terminate()
        process.wait(timeout=15)


def run(server_env: Mapping[str, str] | None = None, tiny: bool = False) -> list[Figure]:
    starts = TINY_STARTS if tiny else STARTS
    with tempfile.TemporaryDirectory(prefix="lucid-bench-startup-") as folder:
        server = ServiceProcess(Path(folder), env={"LOG_LEVEL": "INFO", **(server_env or {})})
        environ = server.environment()
        service = [*lucid_sessions_command(), "serve", "--port"]
        _start([*service, str(server.port)], environ, server.port)  # creates store and keys
        document = os.path.join(folder, "document.json")
        with open(document, "w", encoding="utf-8") as handle:
            json.dump({"session_id": "sess-x", "name": "desk"}, handle)
        ours, minimal = [], []
        for _ in range(starts):  # interleaved
            port = free_port()
            ours.append(_start([*service, str(port)], environ, port))
            port = free_port()
            app = [sys.executable, str(MINIMAL_APP), str(port), document]
            minimal.append(_start(app, os.environ, port))
    best_ours = min(ours)
    best_minimal = min(minimal)
    return [
        Figure("startup.minimal_app_seconds", best_minimal[0], "s", note="the baseline"),
        Figure(
            "startup.seconds_to_healthy",
            best_ours[0],
            "s",
            "startup.minimal_app_seconds",
            below(TARGET_SECONDS),
            "launch to the first 200 from /health, on an existing embedded store",
        ),
        Figure("startup.minimal_app_rss", best_minimal[1], "MiB"),
        Figure(
            "startup.idle_rss",
            min(rss for _, rss in ours),
            "MiB",
            "startup.minimal_app_rss",
            below(TARGET_RSS_MIB),
            f"VmRSS {IDLE_SECONDS:g} s after healthy",
        ),
    ]


if __name__ == "__main__":
    print("\n".join(summarize([run()])))
