"""The soak's traffic: a round-robin client over the replicas that retries another replica
on a refused connection or a 503 (after its Retry-After), recorders uploading sessions at a
steady rate, and an auditor checking what was acknowledged while the faults run."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from blake3 import blake3
from tests.servers import ADMIN_TOKEN, bearer

from lucid_sessions.domain.merkle import (
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

__all__ = ["Ack", "Answer", "Cluster", "Journal", "SessionRecord", "auditor", "recorder", "root_of"]

BASE = "/api/v1/sessions"
LOG = f"{BASE}/log"
OCTETS = {"Content-Type": "application/octet-stream"}
RETRY_AFTER_CAP = 2.0
GIVE_UP_AFTER = 60.0


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP attempt: when it started (monotonic), through which replica, its status (None:
    no answer, `error` says why), its latency and whether a 503 carried Retry-After."""

    at: float
    replica: int
    method: str
    what: str
    status: int | None
    latency: float
    retry_after: bool
    error: str = ""
    session_id: str = ""
    seq: int = -1


@dataclass(frozen=True, slots=True)
class Ack:
    session_id: str
    seq: int
    started: float
    acked: float
    recorder: int


@dataclass
class SessionRecord:
    session_id: str
    recorder: int
    retention_days: int
    legal_hold: bool
    delete_on_request: bool
    chunks: list[bytes] = field(default_factory=list)
    unknown_tail: bool = False
    stopped: bool = False
    stopped_at: float = 0.0
    stop_replica: int = -1
    deleted: str = ""  # "request" or "retention" once the soak saw it deleted


@dataclass
class Journal:
    """Everything the threads saw, shared (appends are atomic; `lock` guards the rest)."""

    started: float
    wall_started: float
    answers: list[Answer] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    sessions: dict[str, SessionRecord] = field(default_factory=dict)
    heads: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    failures: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    # The chunks a fault corrupted on purpose (one per round of faults): refused, never served.
    corrupted: set[tuple[str, int]] = field(default_factory=set)
    mongo_url: str = ""
    redis_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, name: str, detail: str) -> None:
        with self.lock:
            self.failures.setdefault(name, []).append(detail)

    def count(self, name: str, by: int = 1) -> None:
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + by

    def wall(self, monotonic: float) -> float:
        return self.wall_started + (monotonic - self.started)

    def offset(self, monotonic: float) -> float:
        return monotonic - self.started


def root_of(chunks: list[bytes]) -> bytes:
    return root_from_leaf_hashes([leaf_hash(blake3(data).digest()) for data in chunks])


class Cluster:
    """One thread's clients of every replica, used round robin."""

    def __init__(self, urls: list[str], journal: Journal, first: int = 0) -> None:
        self.clients = [
            httpx.Client(base_url=url, timeout=30.0, headers=bearer(ADMIN_TOKEN)) for url in urls
        ]
        self.journal = journal
        self.turn = first
        self.last_replica = -1
        self.attempts = 0

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        session_id: str = "",
        seq: int = -1,
        give_up_after: float = GIVE_UP_AFTER,
        **options: Any,
    ) -> httpx.Response | None:
        """The request through the next replica; a refused connection, a lost answer or a
        503 is tried again through the next one (after Retry-After, at most 2 s), until
        `give_up_after` seconds passed. The last answer, or None."""
        deadline = time.monotonic() + give_up_after
        self.attempts = 0
        last: httpx.Response | None = None
        while True:
            number = self.turn % len(self.clients)
            self.turn += 1
            self.attempts += 1
            self.last_replica = number
            began = time.monotonic()
            try:
                response = self.clients[number].request(method, path, **options)
            except httpx.TransportError as exc:
                self.journal.answers.append(
                    Answer(
                        began,
                        number,
                        method,
                        what,
                        None,
                        time.monotonic() - began,
                        False,
                        f"{type(exc).__name__}: {exc}"[:200],
                        session_id,
                        seq,
                    )
                )
                if time.monotonic() > deadline:
                    return last
                time.sleep(0.1)
                continue
            status = response.status_code
            retry_after = response.headers.get("retry-after")
            error = ""
            if status >= 500:
                error = f"request {response.headers.get('x-request-id')}: {response.text[:300]}"
            self.journal.answers.append(
                Answer(
                    began,
                    number,
                    method,
                    what,
                    status,
                    time.monotonic() - began,
                    retry_after is not None,
                    error,
                    session_id,
                    seq,
                )
            )
            if status != 503:
                return response
            last = response
            wait = RETRY_AFTER_CAP
            if retry_after is not None and retry_after.isdigit():
                wait = min(float(retry_after), RETRY_AFTER_CAP)
            if time.monotonic() + wait > deadline:
                return response
            time.sleep(wait)


def views(cluster: Cluster, sid: str) -> str:
    """What every replica says of the session now: status and chunk count (evidence)."""
    seen = []
    for number, client in enumerate(cluster.clients):
        try:
            answer = client.get(f"{BASE}/{sid}")
        except httpx.TransportError as exc:
            seen.append(f"replica {number}: {type(exc).__name__}")
            continue
        if answer.status_code != 200:
            seen.append(f"replica {number}: {answer.status_code}")
            continue
        body = answer.json()
        seen.append(
            f"replica {number}: {body['status']} {body['statistics']['chunks_count']} chunks"
        )
    return ", ".join(seen)


def stored(journal: Journal, sid: str) -> str:
    """The session as MongoDB and the Redis cache hold it now (status, version): evidence of
    where a stale answer came from."""
    import json

    import redis
    from pymongo import MongoClient

    found = []
    try:
        client: MongoClient[dict[str, Any]] = MongoClient(
            journal.mongo_url, serverSelectionTimeoutMS=3000
        )
        try:
            doc = client.get_default_database()["sessions"].find_one({"_id": sid}) or {}
            found.append(f"mongo: status {doc.get('status')} version {doc.get('version')}")
        finally:
            client.close()
    except Exception as exc:  # evidence is best effort
        found.append(f"mongo: {type(exc).__name__}")
    try:
        cache = redis.Redis.from_url(journal.redis_url, socket_timeout=3)
        try:
            for key in cache.scan_iter(match=f"*:session:{sid}"):
                version, document = cache.hmget(key, ["v", "d"])
                status = json.loads(document).get("status") if document else None
                found.append(f"redis {key!r}: version {version!r} status {status}")
        finally:
            cache.close()
    except Exception as exc:  # evidence is best effort
        found.append(f"redis: {type(exc).__name__}")
    return "; ".join(found)


def _evidence(cluster: Cluster, sid: str, answer: httpx.Response | None) -> str:
    """The failed answer (replica, time, request id) and every replica's view of the session
    at once and three seconds later."""
    journal = cluster.journal
    if answer is None:
        head = "no answer"
    else:
        head = (
            f"{answer.status_code} via replica {cluster.last_replica} at "
            f"{journal.offset(time.monotonic()):.1f} s (request "
            f"{answer.headers.get('x-request-id')}): {answer.text[:200]}"
        )
    now, held = views(cluster, sid), stored(journal, sid)
    time.sleep(3.0)
    return (
        f"{head}; replicas then: {now} ({held}); 3 s later: {views(cluster, sid)} "
        f"({stored(journal, sid)})"
    )


def _state_change(cluster: Cluster, sid: str, action: str, wanted: set[str]) -> bool:
    """POST .../{action}; a 409 after a retry is checked against the session's status (the
    first attempt may have worked and lost its answer)."""
    answer = cluster.call("POST", f"{BASE}/{sid}/{action}", action, session_id=sid)
    if answer is not None and answer.status_code == 200:
        return True
    if answer is not None and answer.status_code == 409 and cluster.attempts > 1:
        state = cluster.call("GET", f"{BASE}/{sid}", "get", session_id=sid)
        if state is not None and state.status_code == 200 and state.json()["status"] in wanted:
            return True
    cluster.journal.fail("state_changes", f"{action} {sid}: {_evidence(cluster, sid, answer)}")
    return False


def _chunk(pool: list[bytes], sid: str, seq: int) -> bytes:
    header = f"soak {sid} chunk {seq}\n".encode()
    body = pool[seq % len(pool)]
    return header + body[len(header) :]


def recorder(
    number: int,
    urls: list[str],
    journal: Journal,
    pool: list[bytes],
    seed: int,
    stop_at: float,
    chunk_interval: float = 1.0,
) -> None:
    """Sessions one after another until `stop_at`: create, start, a chunk every
    `chunk_interval` seconds (sometimes sent twice, sometimes around a pause), stop."""
    rng = random.Random(seed * 1000 + number)
    cluster = Cluster(urls, journal, first=number)
    made = 0
    try:
        while time.monotonic() < stop_at:
            made += 1
            draw = rng.random()
            retention = 1 if draw < 0.45 else 30
            hold = 0.3 <= draw < 0.45
            delete = 0.45 <= draw < 0.6
            body = {
                "name": f"soak recorder {number} session {made}",
                "rdp_config": {"host": f"10.0.{number}.{made % 250}"},
                "storage_config": {"retention_days": retention, "legal_hold": hold},
                "metadata": {"project": "soak"},
            }
            created = cluster.call("POST", BASE, "create", json=body)
            if created is None or created.status_code != 201:
                detail = "no answer" if created is None else f"{created.status_code}"
                journal.fail("state_changes", f"create: {detail}")
                time.sleep(1.0)
                continue
            sid = str(created.json()["session_id"])
            record = SessionRecord(sid, number, retention, hold, delete)
            with journal.lock:
                journal.sessions[sid] = record
            if not _state_change(cluster, sid, "start", {"recording"}):
                continue
            _record(cluster, journal, record, pool, rng, stop_at, chunk_interval)
            if _state_change(cluster, sid, "stop", {"stopped", "processing", "completed"}):
                record.stop_replica = cluster.last_replica
                record.stopped_at = time.monotonic()
                record.stopped = True
    finally:
        cluster.close()


def _record(
    cluster: Cluster,
    journal: Journal,
    record: SessionRecord,
    pool: list[bytes],
    rng: random.Random,
    stop_at: float,
    interval: float,
) -> None:
    sid = record.session_id
    count = rng.randint(6, 16)
    next_at = time.monotonic()
    for seq in range(count):
        if time.monotonic() >= stop_at:
            return
        data = _chunk(pool, sid, seq)
        began = time.monotonic()
        path = f"{BASE}/{sid}/chunks/{seq}"
        answer = cluster.call(
            "PUT", path, "upload", session_id=sid, seq=seq, content=data, headers=OCTETS
        )
        if answer is None or answer.status_code not in (200, 201):
            detail = _evidence(cluster, sid, answer)
            journal.fail("uploads", f"{sid} chunk {seq} not acknowledged: {detail}")
            record.unknown_tail = True
            return
        if answer.status_code == 200 and cluster.attempts == 1:
            journal.fail("uploads", f"{sid} chunk {seq}: first upload answered 200")
        journal.acks.append(Ack(sid, seq, began, time.monotonic(), record.recorder))
        record.chunks.append(data)
        if rng.random() < 0.1:
            again = cluster.call(
                "PUT", path, "reupload", session_id=sid, seq=seq, content=data, headers=OCTETS
            )
            journal.count("reuploads")
            if again is None or again.status_code != 200:
                detail = "no answer" if again is None else f"{again.status_code} {again.text[:200]}"
                journal.fail("reuploads", f"{sid} chunk {seq} sent again: {detail}")
        if rng.random() < 0.06 and seq < count - 1:
            if _state_change(cluster, sid, "pause", {"paused"}):
                journal.count("pauses")
                time.sleep(rng.uniform(0.5, 1.5))
                _state_change(cluster, sid, "resume", {"recording"})
            next_at = time.monotonic()
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))


def auditor(urls: list[str], journal: Journal, seed: int, stop: threading.Event) -> None:
    """Until `stop`: keep every tree head of the session log, list sessions, check a random
    acknowledged chunk's bytes, inclusion proof and the session tree's consistency, and delete
    the sessions meant to be deleted once they are completed."""
    rng = random.Random(seed * 7919)
    cluster = Cluster(urls, journal)
    try:
        while not stop.wait(1.0):
            head = cluster.call("GET", LOG, "log_head", give_up_after=10.0)
            if head is not None and head.status_code == 200:
                journal.heads.append((time.monotonic(), cluster.last_replica, head.json()))
            listed = cluster.call("GET", BASE, "list", params={"limit": 100}, give_up_after=10.0)
            if listed is not None and listed.status_code != 200:
                journal.fail("auditor", f"list sessions: {listed.status_code}")
            _check_one(cluster, journal, rng)
            _delete_completed(cluster, journal)
    finally:
        cluster.close()


def _check_one(cluster: Cluster, journal: Journal, rng: random.Random) -> None:
    with journal.lock:
        candidates = [
            (s.session_id, list(s.chunks))
            for s in journal.sessions.values()
            if s.chunks and s.retention_days == 30 and not s.delete_on_request
        ]
    if not candidates:
        return
    sid, chunks = rng.choice(candidates)
    seq = rng.randrange(len(chunks))
    if (sid, seq) in journal.corrupted:
        return
    got = cluster.call(
        "GET",
        f"{BASE}/{sid}/chunks/{seq}/download",
        "download",
        session_id=sid,
        seq=seq,
        give_up_after=10.0,
    )
    journal.count("auditor_downloads")
    if got is not None and got.status_code == 200 and got.content != chunks[seq]:
        journal.fail("auditor", f"{sid} chunk {seq}: downloaded bytes differ")
    proof = cluster.call(
        "GET",
        f"{BASE}/{sid}/chunks/{seq}/proof",
        "proof",
        session_id=sid,
        seq=seq,
        params={"tree_size": len(chunks)},
        give_up_after=10.0,
    )
    if proof is not None and proof.status_code == 200:
        body = proof.json()
        leaf = leaf_hash(blake3(chunks[seq]).digest())
        ok = verify_inclusion(
            leaf,
            seq,
            body["tree_size"],
            [bytes.fromhex(h) for h in body["audit_path"]],
            root_of(chunks),
        )
        journal.count("inclusion_proofs")
        if not ok or body["root"] != root_of(chunks).hex():
            journal.fail("auditor", f"{sid} chunk {seq}: inclusion proof does not verify")
    elif proof is not None:
        journal.fail("auditor", f"{sid} chunk {seq} proof: {proof.status_code} {proof.text[:200]}")
    if len(chunks) >= 2:
        old = rng.randint(1, len(chunks) - 1)
        answer = cluster.call(
            "GET",
            f"{BASE}/{sid}/consistency",
            "consistency",
            session_id=sid,
            params={"from": old, "to": len(chunks)},
            give_up_after=10.0,
        )
        if answer is not None and answer.status_code == 200:
            body = answer.json()
            ok = verify_consistency(
                old,
                len(chunks),
                root_of(chunks[:old]),
                root_of(chunks),
                [bytes.fromhex(h) for h in body["proof"]],
            )
            journal.count("consistency_proofs")
            if not ok:
                journal.fail("auditor", f"{sid} consistency {old}->{len(chunks)} does not verify")
        elif answer is not None:
            journal.fail("auditor", f"{sid} consistency: {answer.status_code} {answer.text[:200]}")


def _delete_completed(cluster: Cluster, journal: Journal) -> None:
    with journal.lock:
        waiting = [
            s
            for s in journal.sessions.values()
            if s.delete_on_request and s.stopped and not s.deleted
        ]
    for record in waiting[:2]:
        sid = record.session_id
        state = cluster.call("GET", f"{BASE}/{sid}", "get", session_id=sid, give_up_after=10.0)
        if state is None or state.status_code != 200 or state.json()["status"] != "completed":
            continue
        gone = cluster.call("DELETE", f"{BASE}/{sid}", "delete", session_id=sid)
        lost_answer = cluster.attempts > 1 and gone is not None and gone.status_code == 404
        if (gone is not None and gone.status_code == 200) or lost_answer:
            record.deleted = "request"
        else:
            detail = "no answer" if gone is None else f"{gone.status_code} {gone.text[:200]}"
            journal.fail("state_changes", f"delete {sid}: {detail}")
