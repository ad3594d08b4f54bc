"""Runs every benchmark of issue 3 and prints one line per figure.

``.venv/bin/python bench/run.py [merkle] [ingest] [download] [NAME=VALUE ...]`` (all three
benchmarks by default; NAME=VALUE pairs are added to the servers' environment, to try a
setting such as ``MALLOC_ARENA_MAX=2``).
Each line reads ``name: value unit (ratio X vs baseline Y)``; lines with a target of the issue
end in PASS or MISS. The markers are informational: the exit status is 0 either way (speed is
never asserted; see bench/README.md).

The last line says how busy the rest of the machine was while the benchmarks ran: CPU time
used by processes other than this one and its servers, in cores. Ratios taken on a busy
2-core machine say more about the neighbours than about the service.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # common, the other benchmarks
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.servers
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # lucid_sessions

import bench_download
import bench_ingest
import bench_merkle
from common import marker

MERKLE_TARGET_SECONDS = 0.5  # "well under a second"


def _merkle() -> list[str]:
    lines = bench_merkle.main()
    for index, line in enumerate(lines):
        if line.startswith("merkle.append_100k_with_proofs:"):
            seconds = float(line.split(":", 1)[1].split()[0])
            lines[index] = (
                f"{line} {marker(seconds < MERKLE_TARGET_SECONDS)} target < "
                f'{MERKLE_TARGET_SECONDS} s ("well under a second")'
            )
    return lines


BENCHMARKS: dict[str, Callable[[dict[str, str]], list[str]]] = {
    "merkle": lambda _env: _merkle(),
    "ingest": bench_ingest.main,
    "download": bench_download.main,
}


def _busy_jiffies() -> int:
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle


def _own_cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # servers, once waited for
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(args: list[str]) -> int:
    env = dict(arg.split("=", 1) for arg in args if "=" in arg)
    names = [arg for arg in args if "=" not in arg]
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    cores = os.cpu_count() or 1
    print(
        f"# lucid-sessions benchmarks: Python {platform.python_version()}, {cores} cores, "
        f"load average {os.getloadavg()[0]:.2f} at start"
        + (f", server environment {env}" if env else "")
    )
    started, busy, own = time.monotonic(), _busy_jiffies(), _own_cpu_seconds()
    for name in names or list(BENCHMARKS):
        began = time.monotonic()
        for line in BENCHMARKS[name](env):
            print(line, flush=True)
        print(f"# {name}: {time.monotonic() - began:.1f} s", flush=True)
    elapsed = time.monotonic() - started
    system = (_busy_jiffies() - busy) / os.sysconf("SC_CLK_TCK")
    others = max(system - (_own_cpu_seconds() - own), 0.0) / elapsed
    print(
        f"bench.other_load: {others:.2f} cores used by other processes on average "
        f"over {elapsed:.0f} s ({marker(others < 0.1)} figures trustworthy below 0.10)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
