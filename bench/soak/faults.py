"""The soak's faults, on a schedule drawn from the seed: each kind at least once, spread over
the middle of the run, one at a time. Each records its window (start and end, monotonic)."""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import obstore

from soak.stack import Stack
from soak.traffic import BASE, Cluster, Journal

__all__ = ["KINDS", "Fault", "plan", "retention_sweep", "run_faults"]

KINDS = (
    "kill_replica",
    "pause_s3",
    "restart_redis",
    "stall_mongo",
    "term_replica",
    "corrupt_blob",
)


@dataclass
class Fault:
    kind: str
    start: float
    end: float
    detail: str


def plan(rng: random.Random, duration: float) -> list[tuple[float, str]]:
    """(offset in seconds, kind): every kind once per two minutes of run (at least once), in a
    seeded order, between 12 % and 80 % of the run, plus a retention sweep at 60 %."""
    rounds = max(1, int(duration // 120))
    kinds: list[str] = []
    for _ in range(rounds):
        batch = list(KINDS)
        rng.shuffle(batch)
        kinds += batch
    low, high = 0.12 * duration, 0.80 * duration
    slot = (high - low) / len(kinds)
    planned = [(low + (n + rng.uniform(0.0, 0.3)) * slot, kind) for n, kind in enumerate(kinds)]
    planned.append((0.6 * duration, "retention_sweep"))
    return sorted(planned)


def retention_sweep(stack: Stack, journal: Journal) -> list[str]:
    """`lucid-sessions retention sweep` as of a day and two minutes from now (the shortest
    retention is one day): the sessions kept one day expire. The ids it deleted."""
    as_of = datetime.now(UTC) + timedelta(days=1, minutes=2)
    done = stack.replicas[0].run_cli(
        "retention", "sweep", "--as-of", as_of.strftime("%Y-%m-%dT%H:%M:%SZ"), timeout=120.0
    )
    deleted: list[str] = []
    if done.returncode != 0:
        journal.fail("retention", f"sweep exited {done.returncode}: {done.stderr[-500:]}")
        return deleted
    for line in done.stdout.splitlines():
        if not line.startswith("{"):
            continue
        item = json.loads(line)
        if item.get("outcome") in ("deleted", "resumed"):
            deleted.append(str(item["session_id"]))
            with journal.lock:
                record = journal.sessions.get(str(item["session_id"]))
            if record is not None:
                record.deleted = "retention"
    journal.count("retention_deleted", len(deleted))
    return deleted


def _corrupt(stack: Stack, journal: Journal, rng: random.Random, deadline: float) -> str:
    """Flip one byte in the middle of a completed session's blob; which one is recorded."""
    cluster = Cluster([replica.url for replica in stack.replicas], journal)
    try:
        while time.monotonic() < deadline:
            with journal.lock:
                candidates = [
                    s
                    for s in journal.sessions.values()
                    if s.stopped and s.chunks and s.retention_days == 30 and not s.delete_on_request
                ]
            rng.shuffle(candidates)
            for record in candidates:
                state = cluster.call("GET", f"{BASE}/{record.session_id}", "get", give_up_after=5)
                if state is None or state.status_code != 200:
                    continue
                if state.json()["status"] != "completed":
                    continue
                seq = rng.randrange(len(record.chunks))
                if (record.session_id, seq) in journal.corrupted:
                    continue
                key = f"{record.session_id}/{seq:012d}.lsb"
                store = stack.store()
                blob = bytearray(bytes(obstore.get(store, key).bytes()))
                blob[len(blob) // 2] ^= 0x40
                journal.corrupted.add((record.session_id, seq))
                obstore.put(store, key, bytes(blob))
                return f"session {record.session_id} chunk {seq} (byte {len(blob) // 2} flipped)"
            time.sleep(2.0)
        return "no completed session to corrupt"
    finally:
        cluster.close()


def _just_stopped_through(journal: Journal, otherwise: int, wait: float = 8.0) -> int:
    """The replica that answered the next session stop (waiting up to `wait` seconds for
    one), so that the kill may leave a finalization for another replica to take over."""
    since = time.monotonic()
    while time.monotonic() < since + wait:
        with journal.lock:
            stops = [s for s in journal.sessions.values() if s.stopped and s.stopped_at >= since]
        if stops:
            return stops[0].stop_replica
        time.sleep(0.02)
    return otherwise


def _one(stack: Stack, journal: Journal, kind: str, rng: random.Random, began: list[float]) -> str:
    """Make the fault `kind` and end it; `began` gets the moment it hit."""
    assert stack.s3 is not None
    assert stack.redis is not None
    assert stack.mongo is not None
    if kind in ("kill_replica", "term_replica"):
        number = rng.randrange(len(stack.replicas))
        if kind == "kill_replica":
            number = _just_stopped_through(journal, number)
        replica = stack.replicas[number]
        began.append(time.monotonic())
        if kind == "kill_replica":
            replica.kill()
            detail = f"replica {number} SIGKILL"
            time.sleep(rng.uniform(2.0, 4.0))
        else:
            code = replica.stop(signal.SIGTERM)
            detail = f"replica {number} SIGTERM, exit status {code}"
            if code not in (0, -signal.SIGTERM):
                journal.fail("shutdown", f"replica {number} drained with exit status {code}")
        replica.start(timeout=60.0)
        return detail
    if kind == "pause_s3":
        gateway = stack.s3.gateway
        gateway.pause()
        time.sleep(6.0)
        gateway.resume()
        stack.s3.wait_until_answering()
        return "radosgw SIGSTOP 6 s, SIGCONT"
    if kind == "restart_redis":
        stack.redis.restart()
        return "redis-server restarted (empty)"
    if kind == "stall_mongo":
        stack.mongo.pause()
        time.sleep(4.0)
        stack.mongo.resume()
        return "mongoeco SIGSTOP 4 s, SIGCONT"
    if kind == "corrupt_blob":
        return _corrupt(stack, journal, rng, time.monotonic() + 30.0)
    if kind == "retention_sweep":
        deleted = retention_sweep(stack, journal)
        return f"retention sweep deleted {len(deleted)} session(s)"
    raise ValueError(kind)


def run_faults(
    stack: Stack,
    journal: Journal,
    planned: list[tuple[float, str]],
    seed: int,
    faults: list[Fault],
    stop: threading.Event,
) -> None:
    rng = random.Random(seed * 31 + 1)
    for offset, kind in planned:
        wait = journal.started + offset - time.monotonic()
        if wait > 0 and stop.wait(wait):
            return
        start = time.monotonic()
        began: list[float] = []
        try:
            detail = _one(stack, journal, kind, rng, began)
        except Exception as exc:  # the soak goes on; the failure is reported
            detail = f"fault failed: {type(exc).__name__}: {exc}"
            journal.fail("faults", f"{kind}: {detail}")
        faults.append(Fault(kind, began[0] if began else start, time.monotonic(), detail))
