"""The one benchmark command: every figure of the performance goals, with its baseline.

``.venv/bin/python bench/run.py [BENCHMARK ...] [--runs N] [--tiny] [NAME=VALUE ...]``

- BENCHMARK: any of api, ingest, download, startup, codec, merkle, capacity, s3, playback,
  keys (default: all, in that order).
- ``--runs N`` (default 3): every benchmark runs N times, interleaved (api, ingest, ...,
  then again), and each figure is printed as the median of the runs with their spread
  ``[lowest-highest]``; its ratio to its baseline (measured in the same run) likewise.
- ``soak [--minutes N] [--recorders N] [--replicas N] [--seed S]``: instead, the chaos soak
  of the replicated stack (bench/soak).
- ``--tiny``: small sizes and short durations, to check that the command works (the test
  suite runs ``--tiny --runs 1``); its figures mean nothing.
- NAME=VALUE: added to the servers' environment, to try a setting (``MALLOC_ARENA_MAX=2``,
  ``LUCID_CIPHER=chacha20-poly1305``, ``MONGODB_URL=...``).

Each line reads ``name: median unit [spread] (ratio R [spread] vs BASELINE median unit)``;
a figure with a goal ends in PASS or MISS. The markers are information: the exit status is 0
either way (speed is never asserted; see bench/README.md). The last line says how busy the
rest of the machine was: CPU time used by processes other than this one and its servers, in
cores. Ratios taken on a busy 2-core machine say more about the neighbours than the service.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # common, the other benchmarks
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.servers
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # lucid_sessions

import bench_api
import bench_capacity
import bench_codec
import bench_download
import bench_ingest
import bench_keys
import bench_merkle
import bench_playback
import bench_s3
import bench_startup
import soak
from figures import Figure, summarize

Benchmark = Callable[[Mapping[str, str], bool], list[Figure]]

BENCHMARKS: dict[str, Benchmark] = {
    "api": bench_api.run,
    "ingest": bench_ingest.run,
    "download": bench_download.run,
    "startup": bench_startup.run,
    "codec": bench_codec.run,
    "merkle": bench_merkle.run,
    "capacity": bench_capacity.run,
    "s3": bench_s3.run,
    "playback": bench_playback.run,
    "keys": bench_keys.run,
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


def _arguments(argv: list[str]) -> tuple[argparse.Namespace, dict[str, str]]:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n")[0])
    parser.add_argument("benchmarks", nargs="*", metavar="BENCHMARK|NAME=VALUE")
    parser.add_argument("--runs", type=int, default=3, help="runs of each benchmark (3)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: checks the command")
    args = parser.parse_args(argv)
    env = dict(arg.split("=", 1) for arg in args.benchmarks if "=" in arg)
    args.benchmarks = [arg for arg in args.benchmarks if "=" not in arg] or list(BENCHMARKS)
    unknown = [name for name in args.benchmarks if name not in BENCHMARKS]
    if unknown:
        parser.error(
            f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args, env


def main(argv: list[str]) -> int:
    if argv and argv[0] == "soak":
        return soak.main(argv[1:])
    args, env = _arguments(argv)
    cores = os.cpu_count() or 1
    print(
        f"# lucid-sessions benchmarks: Python {platform.python_version()}, {cores} cores, "
        f"load average {os.getloadavg()[0]:.2f} at start, {args.runs} run(s)"
        + (", tiny sizes (the figures mean nothing)" if args.tiny else "")
        + (f", server environment {env}" if env else ""),
        flush=True,
    )
    started, busy, own = time.monotonic(), _busy_jiffies(), _own_cpu_seconds()
    runs: dict[str, list[list[Figure]]] = {name: [] for name in args.benchmarks}
    try:
        for number in range(1, args.runs + 1):
            for name in args.benchmarks:
                began = time.monotonic()
                runs[name].append(BENCHMARKS[name](env, args.tiny))
                print(
                    f"# run {number}/{args.runs} {name}: {time.monotonic() - began:.1f} s",
                    flush=True,
                )
    finally:
        bench_api.close()
    for name in args.benchmarks:
        for line in summarize(runs[name]):
            print(line, flush=True)
    elapsed = time.monotonic() - started
    system = (_busy_jiffies() - busy) / os.sysconf("SC_CLK_TCK")
    others = max(system - (_own_cpu_seconds() - own), 0.0) / elapsed
    print(
        f"bench.other_load: {others:.2f} cores used by other processes on average "
        f"over {elapsed:.0f} s ({'PASS' if others < 0.1 else 'MISS'} figures trustworthy "
        "below 0.10)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
