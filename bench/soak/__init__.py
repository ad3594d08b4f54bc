"""The chaos soak of the replicated stack: `bench/run.py soak [--minutes N] [--recorders N]
[--replicas N] [--seed S]`.

Starts its own stack in a temporary folder (the MongoDB wire server, redis-server, a RADOS
Gateway on a throwaway Ceph cluster, and N `lucid-sessions serve` replicas sharing them),
runs recorders and an auditor against the replicas round robin while faults drawn from the
seed hit the stack (a replica killed and restarted, the S3 gateway stopped and continued,
redis-server restarted, the MongoDB server stalled, a replica drained by SIGTERM and
restarted, a stored blob corrupted on purpose, a retention sweep), then audits what was
acknowledged. Prints the fault windows, one `soak.audit.<name>: PASS|FAIL detail` line per
audit and the figures (`soak.<name>: value unit`); the exit status is 0 when every audit
line passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import httpx
from tests.servers import ADMIN_TOKEN, bearer
from tests.servers_db import ServerUnavailable

from common import rss_kib, screen_chunks
from soak.audit import Sample, audit, figures, takeover
from soak.faults import Fault, plan, retention_sweep, run_faults
from soak.stack import Stack
from soak.traffic import BASE, Cluster, Journal, auditor, recorder

__all__ = ["main"]

CHUNK_BYTES = 250_000  # 2 Mbit/s per session, one chunk a second


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py soak", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=2.0, help="length of the run (2)")
    parser.add_argument("--recorders", type=int, default=4, help="recorder threads (4)")
    parser.add_argument("--replicas", type=int, default=3, help="service replicas (3)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the fault schedule (1)")
    parser.add_argument("--keep-logs", type=Path, help="copy the servers' logs to this folder")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.recorders < 1 or args.replicas < 2:
        parser.error("--minutes > 0, --recorders >= 1 and --replicas >= 2")
    return args


def _asyncio_tasks(client: httpx.Client, url: str) -> int:
    """The replica's `lucid_asyncio_tasks` from its /metrics; -1 when it does not answer."""
    try:
        answer = client.get(f"{url}/metrics", timeout=1.0)
    except httpx.HTTPError:
        return -1
    found = re.search(r"^lucid_asyncio_tasks (\S+)$", answer.text, re.MULTILINE)
    return int(float(found.group(1))) if answer.status_code == 200 and found else -1


def _sample(stack: Stack, samples: list[Sample], stop: threading.Event) -> None:
    """Every 2 s: each replica's RSS and open descriptors, from /proc, and the asyncio tasks
    alive in its event loop, from its /metrics."""
    with httpx.Client(headers=bearer(ADMIN_TOKEN)) as client:
        while not stop.wait(2.0):
            for number, replica in enumerate(stack.replicas):
                process = replica.process
                if process is None or process.poll() is not None:
                    continue
                try:
                    fds = len(os.listdir(f"/proc/{process.pid}/fd"))
                    rss = rss_kib(process.pid)
                except (OSError, RuntimeError):
                    continue
                tasks = _asyncio_tasks(client, replica.url)
                samples.append((time.monotonic(), number, process.pid, rss, fds, tasks))


def _wait_finalized(stack: Stack, journal: Journal, timeout: float = 120.0) -> None:
    cluster = Cluster([replica.url for replica in stack.replicas], journal)
    deadline = time.monotonic() + timeout
    try:
        for record in list(journal.sessions.values()):
            while record.stopped and not record.deleted and time.monotonic() < deadline:
                state = cluster.call("GET", f"{BASE}/{record.session_id}", "get", give_up_after=10)
                if state is None or state.status_code != 200:
                    break
                if state.json()["status"] in ("completed", "failed"):
                    break
                time.sleep(0.5)
    finally:
        cluster.close()


def _delete_remaining(stack: Stack, journal: Journal) -> None:
    cluster = Cluster([replica.url for replica in stack.replicas], journal)
    try:
        for record in list(journal.sessions.values()):
            if record.delete_on_request and record.stopped and not record.deleted:
                gone = cluster.call("DELETE", f"{BASE}/{record.session_id}", "delete")
                if gone is not None and gone.status_code == 200:
                    record.deleted = "request"
                else:
                    detail = (
                        "no answer" if gone is None else f"{gone.status_code} {gone.text[:200]}"
                    )
                    journal.fail("state_changes", f"delete {record.session_id}: {detail}")
    finally:
        cluster.close()


def main(argv: list[str]) -> int:
    args = _arguments(argv)
    duration = args.minutes * 60.0
    print(
        f"# lucid-sessions soak: {args.minutes:g} min, {args.recorders} recorders, "
        f"{args.replicas} replicas, seed {args.seed}, {os.cpu_count()} cores",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="lucid-soak-") as scratch:
        stack = Stack(Path(scratch), args.replicas)
        began = time.monotonic()
        try:
            stack.start()
        except ServerUnavailable as exc:
            print(f"# soak: cannot start the stack ({exc.component}): {exc}", flush=True)
            stack.stop()
            return 2
        print(
            f"# stack up in {time.monotonic() - began:.1f} s: {stack.env['LUCID_S3_ENDPOINT']}, "
            f"replicas {', '.join(r.url for r in stack.replicas)}",
            flush=True,
        )
        try:
            return _run(stack, args, duration)
        finally:
            stack.stop()
            if args.keep_logs is not None:
                _keep_logs(Path(scratch), args.keep_logs)


def _keep_logs(scratch: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for log in scratch.rglob("*.log"):
        if log.is_file():
            target = folder / str(log.relative_to(scratch)).replace("/", "-")
            shutil.copyfile(log, target)
    print(f"# logs kept in {folder}", flush=True)


def _run(stack: Stack, args: argparse.Namespace, duration: float) -> int:
    pool = screen_chunks(12, seed=args.seed, size=CHUNK_BYTES)
    rng = random.Random(args.seed)
    planned = plan(rng, duration)
    journal = Journal(time.monotonic(), time.time())
    journal.mongo_url, journal.redis_url = stack.env["MONGODB_URL"], stack.env["REDIS_URL"]
    stop_at = journal.started + duration
    urls = [replica.url for replica in stack.replicas]
    faults: list[Fault] = []
    samples: list[Sample] = []
    halt = threading.Event()
    threads = [
        threading.Thread(
            target=recorder,
            args=(n, urls, journal, pool, args.seed, stop_at),
            name=f"recorder-{n}",
        )
        for n in range(args.recorders)
    ]
    helpers = [
        threading.Thread(target=auditor, args=(urls, journal, args.seed, halt), name="auditor"),
        threading.Thread(target=_sample, args=(stack, samples, halt), name="sampler"),
    ]
    fault_thread = threading.Thread(
        target=run_faults, args=(stack, journal, planned, args.seed, faults, halt), name="faults"
    )
    for thread in [*threads, *helpers, fault_thread]:
        thread.start()
    fault_thread.join()
    for thread in threads:
        thread.join()
    run_end = time.monotonic()
    halt.set()
    for thread in helpers:
        thread.join()
    for fault in faults:
        print(
            f"# fault {fault.kind} {journal.offset(fault.start):.1f}-"
            f"{journal.offset(fault.end):.1f} s: {fault.detail}",
            flush=True,
        )
    print(f"# recorders done at {run_end - journal.started:.1f} s; closing", flush=True)
    _wait_finalized(stack, journal)
    deleted = retention_sweep(stack, journal)
    print(f"# closing retention sweep deleted {len(deleted)} session(s)", flush=True)
    _delete_remaining(stack, journal)
    lines, lost = audit(stack, journal, faults, samples, run_end)
    for line in [
        *lines,
        *figures(journal, faults, run_end, lost),
        *takeover(journal, faults, stack),
    ]:
        print(line, flush=True)
    for name, found in journal.failures.items():
        for detail in found:
            print(f"# evidence {name}: {detail}", flush=True)
    failed = [line for line in lines if ": FAIL " in line]
    return 1 if failed or lost else 0
