"""Retention, the session log and anchoring, as use cases over the fakes."""

from __future__ import annotations

import asyncio
import itertools
import os
import selectors
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

import anyio
import pytest

from lucid_sessions.adapters.crypto import verify_signature
from lucid_sessions.adapters.memory import (
    FrozenClock,
    InMemoryBlobStore,
    InMemorySigner,
    RecordingTelemetry,
)
from lucid_sessions.app.periodic import PeriodicJob
from lucid_sessions.app.usecases.anchoring import ANCHOR_LEASE, AnchorLog
from lucid_sessions.app.usecases.delete_session import DeleteSession, SessionDeleter
from lucid_sessions.app.usecases.retention import SweepOutcome, SweepRetention
from lucid_sessions.app.usecases.session_log import ReadSessionLog
from lucid_sessions.bootstrap.container import Container
from lucid_sessions.domain.errors import (
    AnchorUnavailable,
    ChunkNotFound,
    Forbidden,
    PolicyViolation,
    SessionNotFound,
)
from lucid_sessions.domain.merkle import verify_consistency, verify_inclusion
from lucid_sessions.domain.ports.anchor import Anchor
from lucid_sessions.domain.ports.session_log import SessionLog
from lucid_sessions.domain.ports.session_repository import SessionQuery, SessionRepository
from lucid_sessions.domain.principal import SYSTEM, Principal, Role
from lucid_sessions.domain.session import SessionStatus
from lucid_sessions.domain.session_log import DeletionReason, LogEventType, TreeHead
from lucid_sessions.domain.values import StorageConfig
from tests.factories import T0, make_session
from tests.graph import fake_container

pytestmark = pytest.mark.anyio

ALICE = Principal("alice", Role.USER)


@dataclass
class Ops:
    repo: SessionRepository
    blobs: InMemoryBlobStore
    log: SessionLog
    clock: FrozenClock
    deleter: SessionDeleter
    delete: DeleteSession
    sweep: SweepRetention
    reader: ReadSessionLog
    telemetry: RecordingTelemetry
    signer: InMemorySigner
    graph: Callable[..., Container]
    """Another container on the same stores, blobs, clock, signer and telemetry: a replica
    (`owner=...`) or this process with another provider replaced (`anchor=...`)."""


@pytest.fixture
def ops(tmp_path: Path) -> Ops:
    clock, telemetry, signer = FrozenClock(T0), RecordingTelemetry(), InMemorySigner()
    blobs = InMemoryBlobStore()
    container = fake_container(
        tmp_path,
        blob_store=blobs,
        clock=clock,
        telemetry=telemetry,
        signer=signer,
        owner="this-process",
    )
    graph = partial(
        fake_container,
        tmp_path,
        stores=container.stores(),
        blob_store=blobs,
        clock=clock,
        telemetry=telemetry,
        signer=signer,
        owner="this-process",
    )
    return Ops(
        container.session_repository(),
        blobs,
        container.session_log(),
        clock,
        container.session_deleter(),
        container.delete_session(),
        # No setting sets the sweep's lease on a stale deletion claim (the container leaves
        # SweepRetention's default, 600 s); these tests take over a claim after 120 s, so the
        # container's factory is called with the shorter lease.
        container.sweep_retention(lease_seconds=60),
        container.read_session_log(),
        telemetry,
        signer,
        graph,
    )


async def stopped(ops: Ops, sid: str, days: int = 1, **storage: object) -> str:
    session = make_session(sid, storage_config=StorageConfig(retention_days=days, **storage))  # type: ignore[arg-type]
    await ops.repo.add(session)
    session.start(ops.clock.now())
    session.stop(ops.clock.now())
    await ops.repo.save(session)
    await ops.blobs.put(sid, 0, b"blob")
    return sid


async def test_retention_deletes_expired_sessions_and_logs_each(ops: Ops) -> None:
    await stopped(ops, "sess-old", days=1)
    await stopped(ops, "sess-young", days=30)
    await stopped(ops, "sess-held", days=1, legal_hold=True)
    assert await ops.sweep() == []
    ops.clock.advance(2 * 86400)
    dry = await ops.sweep(dry_run=True)
    assert [(s.session_id, s.outcome) for s in dry] == [("sess-old", SweepOutcome.WOULD_DELETE)]
    assert (await ops.repo.get("sess-old")).status is SessionStatus.STOPPED, "dry run"
    swept = await ops.sweep()
    assert [(s.session_id, s.outcome) for s in swept] == [("sess-old", SweepOutcome.DELETED)]
    with pytest.raises(SessionNotFound):
        await ops.repo.get("sess-old")
    with pytest.raises(ChunkNotFound):
        await ops.blobs.get("sess-old", 0)
    (entry,) = await ops.log.entries(0, 10)
    assert (entry.type, entry.session_id, entry.reason) == (
        LogEventType.DELETED,
        "sess-old",
        DeletionReason.RETENTION,
    )
    assert entry.principal == SYSTEM.id
    as_of = await ops.sweep(as_of=T0 + timedelta(days=400))
    assert [s.session_id for s in as_of] == ["sess-young"], "legal hold is never swept"
    counts = ops.telemetry.counts
    assert counts[("retention_swept", "would_delete")] == 1
    assert counts[("retention_swept", "deleted")] == 2
    assert counts[("session_deleted", "retention")] == 2


async def test_two_sweepers_at_once_delete_each_session_once(ops: Ops) -> None:
    for n in range(12):
        await stopped(ops, f"sess-{n:02d}")
    ops.clock.advance(2 * 86400)
    results: list[list[str]] = []

    async def sweep() -> None:
        results.append([s.outcome for s in await ops.sweep()])

    async with anyio.create_task_group() as group:
        group.start_soon(sweep)
        group.start_soon(sweep)
    deleted = [o for run in results for o in run if o == SweepOutcome.DELETED]
    assert len(deleted) == 12
    entries = await ops.log.entries(0, 100)
    assert sorted(e.session_id for e in entries) == [f"sess-{n:02d}" for n in range(12)]
    assert (await ops.repo.list(SessionQuery(status=SessionStatus.DELETING))).total == 0


async def test_a_deletion_interrupted_half_way_is_finished_later(ops: Ops) -> None:
    await stopped(ops, "sess-crash")
    claimed = await ops.deleter.claim(SYSTEM, "sess-crash", DeletionReason.REQUEST)
    # the process dies here: claimed, not logged, data still there
    with pytest.raises(SessionNotFound):
        await ops.delete(SYSTEM, "sess-crash")  # hidden from every reader meanwhile
    assert await ops.sweep() == [], "a fresh claim belongs to its process for the lease"
    ops.clock.advance(120)
    resumed = await ops.sweep()
    assert [(s.session_id, s.outcome) for s in resumed] == [("sess-crash", SweepOutcome.RESUMED)]
    (entry,) = await ops.log.entries(0, 10)
    assert entry.reason is DeletionReason.REQUEST
    assert entry.at == claimed.deletion.at  # type: ignore[union-attr]
    with pytest.raises(SessionNotFound):
        await ops.repo.get("sess-crash")
    await ops.deleter.finish(claimed)  # a late finish by the dead process changes nothing
    assert await ops.log.size() == 1


async def test_deletion_by_request_and_by_force(ops: Ops) -> None:
    await stopped(ops, "sess-req")
    recording = make_session("sess-rec")
    await ops.repo.add(recording)
    recording.start(ops.clock.now())
    await ops.repo.save(recording)
    held = make_session("sess-held", storage_config=StorageConfig(legal_hold=True))
    await ops.repo.add(held)
    assert await ops.delete(SYSTEM, "sess-req") == "sess-req"
    assert await ops.delete(SYSTEM, "sess-rec", force=True) == "sess-rec"
    with pytest.raises(PolicyViolation):
        await ops.delete(SYSTEM, "sess-held", force=True)
    reasons = [e.reason for e in await ops.log.entries(0, 10)]
    assert reasons == [DeletionReason.REQUEST, DeletionReason.FORCE]
    assert ops.telemetry.counts[("session_deleted", "request")] == 1
    assert ops.telemetry.counts[("session_deleted", "force")] == 1


async def test_signed_tree_heads_and_proofs_verify(ops: Ops) -> None:
    for n in range(7):
        await stopped(ops, f"sess-{n}")
        await ops.delete(SYSTEM, f"sess-{n}")
    head = await ops.reader.head()
    assert head.tree_size == 7
    assert verify_signature(head.public_key, head.signed_bytes(), head.signature)
    for index in range(7):
        proof = await ops.reader.inclusion(SYSTEM, index, None)
        assert proof.leaf_hash == proof.entry.leaf_hash()
        assert verify_inclusion(proof.leaf_hash, index, 7, proof.audit_path, head.root)
    older = await ops.reader.consistency(ALICE, 3, None)
    assert verify_consistency(3, 7, older.first_root, head.root, older.proof)
    with pytest.raises(Forbidden):
        await ops.reader.entries(ALICE, 0, None)
    with pytest.raises(Forbidden):
        await ops.reader.inclusion(ALICE, 0, None)
    forged = TreeHead(
        head.tree_size, os.urandom(32), head.timestamp, head.public_key, head.signature
    )
    assert not verify_signature(forged.public_key, forged.signed_bytes(), forged.signature)


def anchor_job(ops: Ops, anchor: Anchor) -> AnchorLog:
    """This process's anchoring job, publishing to `anchor`."""
    return ops.graph(anchor=anchor).anchor_log()


class FlakyAnchor(Anchor):
    def __init__(self) -> None:
        self.down = False
        self.published: list[int] = []

    async def publish(self, head: TreeHead) -> None:
        if self.down:
            raise AnchorUnavailable("engine down")
        self.published.append(head.tree_size)


async def test_anchoring_publishes_new_heads_once_and_survives_an_outage(ops: Ops) -> None:
    anchor = FlakyAnchor()
    anchoring = anchor_job(ops, anchor)
    assert await anchoring() is None, "an empty log has nothing to anchor"
    await stopped(ops, "sess-a")
    await ops.delete(SYSTEM, "sess-a")
    assert await anchoring() == 1
    assert await anchoring() is None, "published once"
    await stopped(ops, "sess-b")
    await ops.delete(SYSTEM, "sess-b")
    anchor.down = True
    with pytest.raises(AnchorUnavailable):
        await anchoring()
    assert await ops.log.anchored_size() == 1
    anchor.down = False
    assert await anchoring() == 2
    assert anchor.published == [1, 2]
    assert ops.telemetry.counts[("anchoring", "anchored")] == 2
    assert ops.telemetry.counts[("anchoring", "failed")] == 1


async def test_replicas_publish_each_head_once(ops: Ops) -> None:
    """Two replicas share the log and the leases: while one anchors, the other skips; after
    it, the other finds the head anchored. The engine sees every head once."""
    anchor = FlakyAnchor()
    replica_a = ops.graph(owner="a", anchor=anchor).anchor_log()
    container_b = ops.graph(owner="b", anchor=anchor)
    claims_b = container_b.claims()
    replica_b = container_b.anchor_log()
    await stopped(ops, "sess-a")
    await ops.delete(SYSTEM, "sess-a")
    assert await claims_b.take(ANCHOR_LEASE)  # B is anchoring right now
    assert await replica_a() is None
    await claims_b.release(ANCHOR_LEASE)
    assert await replica_a() == 1
    assert await replica_b() is None
    assert anchor.published == [1]


async def test_a_log_line_is_not_an_anchor(ops: Ops) -> None:
    """Without BLOCKCHAIN_ENGINE_URL each new head is logged once, and the log's anchored
    size stays 0: an operator never sees heads reported as anchored that were not."""
    logged: list[int] = []

    class LogOnly(FlakyAnchor):
        durable = False

        async def publish(self, head: TreeHead) -> None:
            logged.append(head.tree_size)

    anchoring = anchor_job(ops, LogOnly())
    await stopped(ops, "sess-a")
    await ops.delete(SYSTEM, "sess-a")
    assert await anchoring() is None
    assert await anchoring() is None
    assert logged == [1], "each new head once"
    assert await ops.log.anchored_size() == 0
    assert ops.telemetry.counts[("anchoring", "anchored")] == 0


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio loop on virtual time: whenever it would wait for its next timer with nothing
    to do, its clock jumps to that timer instead. anyio's sleeps, timeouts and
    `current_time()` read this clock, so PeriodicJob (which takes no clock of its own) runs
    its backoff without waiting, and the gaps measured are exactly those it chose."""

    def __init__(self) -> None:
        super().__init__(selectors.DefaultSelector())
        self._now = 0.0
        wait = self._selector.select

        def select(timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
            ready = wait(0)
            if not ready and timeout is not None and timeout > 0:
                self._now += timeout
            elif not ready and timeout is None:
                raise AssertionError("nothing to do and no timer: the test would hang")
            return ready

        self._selector.select = select  # type: ignore[method-assign]

    def time(self) -> float:
        return self._now


@pytest.mark.parametrize("anyio_backend", [("asyncio", {"loop_factory": VirtualTimeLoop})])
async def test_a_periodic_job_backs_off_and_recovers() -> None:
    assert isinstance(asyncio.get_running_loop(), VirtualTimeLoop)
    calls: list[float] = []
    failing = True

    async def work() -> None:
        calls.append(anyio.current_time())
        if failing:
            raise AnchorUnavailable("down")

    job = PeriodicJob("test", work, interval=3600)
    with anyio.move_on_after(3.8):
        async with anyio.create_task_group() as group:
            await group.start(job.run)
            await anyio.sleep(3.7)
            group.cancel_scope.cancel()
    gaps = [round(b - a) for a, b in itertools.pairwise(calls)]
    assert gaps[:2] == [1, 2], "retries after 1 s, then 2 s"
    assert job.failures >= 2
    failing = False
    calls.clear()
    async with anyio.create_task_group() as group:
        await group.start(job.run)
        await anyio.sleep(0.1)
        job.poke()
        await anyio.sleep(0.1)
        group.cancel_scope.cancel()
    assert len(calls) == 2, "runs at start, then when poked"
    assert job.failures == 0
