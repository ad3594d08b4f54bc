"""The soak's closing audit (one `soak.audit.<name>: PASS|FAIL detail` line each) and its
figures (`soak.<name>: value unit`)."""

from __future__ import annotations

import itertools
import statistics
from datetime import datetime
from typing import Any

import obstore

from lucid_sessions.adapters.crypto.signer import verify_signature
from lucid_sessions.domain.key_set import key_id_of, key_verifies_at, parse_key_set, trusted_key
from lucid_sessions.domain.manifest import canonical_bytes, canonical_json
from lucid_sessions.domain.merkle import verify_consistency
from soak.faults import Fault
from soak.stack import Stack
from soak.traffic import BASE, LOG, Cluster, Journal

__all__ = ["Sample", "audit", "figures"]

# (monotonic, replica, pid, rss KiB, open fds, asyncio tasks or -1 when /metrics did not answer)
Sample = tuple[float, int, int, int, int, int]
RSS_SLOPE_LIMIT = 20_480.0  # KiB per minute over the second half
FDS_SLOPE_LIMIT = 30.0  # open descriptors per minute over the second half
TASKS_SLOPE_LIMIT = 30.0  # asyncio tasks per minute over the second half
WARM_UP = 20.0  # seconds of a fresh process's life left out (its start-up growth is no leak)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _signed_by_key_set(keys: list[Any], document: dict[str, Any], signed_at: str | None) -> bool:
    public = bytes.fromhex(str(document.get("public_key") or ""))
    key_id = document.get("key_id")
    key = trusted_key(keys, key_id, public)
    if key is None or key.public_key != public or (key_id and key_id != key_id_of(public)):
        return False
    if not key_verifies_at(key, None if signed_at is None else _instant(signed_at)):
        return False
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    message = canonical_bytes(document) if "chunks" in document else canonical_json(unsigned)
    return verify_signature(key.public_key, message, bytes.fromhex(str(document["signature"])))


def _line(lines: list[str], name: str, ok: bool, detail: str) -> bool:
    lines.append(f"soak.audit.{name}: {'PASS' if ok else 'FAIL'} {detail}")
    return ok


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope, per minute."""
    if len(points) < 3:
        return 0.0
    mean_t = statistics.fmean(t for t, _ in points)
    mean_v = statistics.fmean(v for _, v in points)
    den = sum((t - mean_t) ** 2 for t, _ in points)
    if den == 0:
        return 0.0
    return 60.0 * sum((t - mean_t) * (v - mean_v) for t, v in points) / den


def _log_entries(cluster: Cluster) -> list[dict[str, Any]]:
    head = cluster.call("GET", LOG, "log_head")
    assert head is not None, "no tree head"
    assert head.status_code == 200, head.text
    size = int(head.json()["tree_size"])
    found: list[dict[str, Any]] = []
    while len(found) < size:
        page = cluster.call(
            "GET", f"{LOG}/entries", "log_entries", params={"start": len(found), "end": size}
        )
        assert page is not None, "no log entries"
        assert page.status_code == 200, page.text
        found += page.json()["entries"]
    return found


def audit(
    stack: Stack,
    journal: Journal,
    faults: list[Fault],
    samples: list[Sample],
    run_end: float,
) -> tuple[list[str], int]:
    """The audit lines, and the number of acknowledged chunks lost."""
    lines: list[str] = []
    urls = [replica.url for replica in stack.replicas]
    cluster = Cluster(urls, journal)
    try:
        return _audit(stack, journal, faults, samples, run_end, cluster, lines)
    finally:
        cluster.close()


def _audit(
    stack: Stack,
    journal: Journal,
    faults: list[Fault],
    samples: list[Sample],
    run_end: float,
    cluster: Cluster,
    lines: list[str],
) -> tuple[list[str], int]:
    sessions = list(journal.sessions.values())
    keys_answer = cluster.call("GET", f"{BASE}/keys", "keys")
    assert keys_answer is not None, "no key set"
    assert keys_answer.status_code == 200, keys_answer.text
    keys = parse_key_set(keys_answer.json())
    entries = _log_entries(cluster)
    by_session: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_session.setdefault(str(entry["session_id"]), []).append(entry)

    # Every acknowledged chunk byte-exact through every replica; the corrupt one refused.
    lost: set[tuple[str, int]] = set()
    problems: list[str] = []
    refused: set[tuple[str, int, int]] = set()  # (session, chunk, replica) answered 500
    checked = 0
    for record in sessions:
        if record.deleted:
            continue
        for number, client in enumerate(cluster.clients):
            for seq, data in enumerate(record.chunks):
                got = client.get(f"{BASE}/{record.session_id}/chunks/{seq}/download")
                checked += 1
                if (record.session_id, seq) in journal.corrupted:
                    named = f"chunk {seq} of session" in got.text and got.content != data
                    if got.status_code == 500 and named:
                        refused.add((record.session_id, seq, number))
                    else:
                        problems.append(
                            f"corrupt chunk {record.session_id}/{seq} via replica {number}: "
                            f"{got.status_code} {got.text[:200]!r}"
                        )
                    continue
                if got.status_code != 200 or got.content != data:
                    lost.add((record.session_id, seq))
                    problems.append(
                        f"{record.session_id}/{seq} via replica {number}: {got.status_code} "
                        f"{'bytes differ' if got.status_code == 200 else got.text[:200]}"
                    )
    acked = sum(len(record.chunks) for record in sessions if not record.deleted)
    kept = {s.session_id for s in sessions if not s.deleted}
    corrupted = sorted(chunk for chunk in journal.corrupted if chunk[0] in kept)
    corrupt_ok = len(refused) == len(corrupted) * len(cluster.clients)
    _line(
        lines,
        "chunks_byte_exact",
        not problems and corrupt_ok,
        f"{acked} acknowledged chunks x {len(stack.replicas)} replicas ({checked} downloads)"
        + (
            f", {len(corrupted)} chunk(s) corrupted on purpose refused with 500 naming them "
            f"through every replica ({', '.join(f'{sid}/{seq}' for sid, seq in corrupted[:3])})"
            if corrupt_ok and corrupted
            else ""
        )
        + (f"; {len(problems)} problems: {'; '.join(problems[:5])}" if problems else ""),
    )

    # Stopped sessions: completed, one `completed` entry, a manifest signed by the key set.
    bad: list[str] = []
    completed = 0
    for record in sessions:
        if not record.stopped or record.deleted:
            continue
        sid = record.session_id
        state = cluster.call("GET", f"{BASE}/{sid}", "get", session_id=sid)
        status = None if state is None else state.json().get("status")
        kinds = [e["type"] for e in by_session.get(sid, [])]
        if status != "completed" or kinds.count("completed") != 1:
            bad.append(f"{sid}: status {status}, log {kinds}")
            continue
        manifest_answer = cluster.call("GET", f"{BASE}/{sid}/manifest", "manifest", session_id=sid)
        manifest = {} if manifest_answer is None else manifest_answer.json()
        if manifest.get("chunks_count") != len(record.chunks) and not record.unknown_tail:
            bad.append(
                f"{sid}: manifest has {manifest.get('chunks_count')} chunks, "
                f"{len(record.chunks)} acknowledged"
            )
            continue
        if not manifest.get("signature") or not _signed_by_key_set(
            keys, manifest, manifest.get("finalized_at")
        ):
            bad.append(f"{sid}: manifest signature does not verify against the key set")
            continue
        completed += 1
    _line(
        lines,
        "stopped_sessions_completed",
        not bad,
        f"{completed} stopped sessions completed, one `completed` entry each, manifests "
        f"verified against {len(keys)} published key(s)"
        + (f"; {len(bad)} bad: {'; '.join(bad[:5])}" if bad else ""),
    )

    # Deleted sessions: one `deleted` entry each, gone from every replica.
    bad = []
    deleted = [record for record in sessions if record.deleted]
    for record in deleted:
        kinds = [e["type"] for e in by_session.get(record.session_id, [])]
        if kinds.count("deleted") != 1 or kinds.count("completed") > 1:
            bad.append(f"{record.session_id} ({record.deleted}): log {kinds}")
        for number, client in enumerate(cluster.clients):
            gone = client.get(f"{BASE}/{record.session_id}")
            if gone.status_code != 404:
                bad.append(f"{record.session_id} via replica {number}: {gone.status_code}")
    by_request = sum(record.deleted == "request" for record in deleted)
    _line(
        lines,
        "deleted_sessions_logged_once",
        not bad and bool(deleted),
        f"{len(deleted)} deleted ({by_request} on request, {len(deleted) - by_request} by "
        "retention), one `deleted` entry each"
        + (f"; {len(bad)} bad: {'; '.join(bad[:5])}" if bad else "")
        + ("" if deleted else "; nothing was deleted"),
    )

    held = [record for record in sessions if record.legal_hold]
    bad = [
        record.session_id
        for record in held
        if record.deleted or "deleted" in [e["type"] for e in by_session.get(record.session_id, [])]
    ]
    for record in held:
        state = cluster.call("GET", f"{BASE}/{record.session_id}", "get")
        if state is None or state.status_code != 200:
            bad.append(f"{record.session_id}: {None if state is None else state.status_code}")
    _line(
        lines,
        "legal_hold_kept",
        not bad,
        f"{len(held)} sessions under legal hold (retention 1 day) all kept"
        + (f"; deleted: {bad[:5]}" if bad else ""),
    )

    # Tree heads: each signed by the key set; each consistent with every later one.
    heads = journal.heads
    bad = []
    for _, number, head in heads:
        if not _signed_by_key_set(keys, head, head.get("timestamp")):
            bad.append(f"head of size {head['tree_size']} via replica {number} not signed")
    for (_, na, older), (_, nb, newer) in itertools.pairwise(heads):
        if newer["tree_size"] < older["tree_size"]:
            bad.append(
                f"size went back from {older['tree_size']} (replica {na}) to "
                f"{newer['tree_size']} (replica {nb})"
            )
    distinct: dict[int, str] = {}
    for _, _, head in heads:
        root = distinct.setdefault(int(head["tree_size"]), str(head["root"]))
        if root != head["root"]:
            bad.append(f"two roots for size {head['tree_size']}")
    sizes = sorted(distinct)
    proofs = 0
    for old, new in itertools.pairwise(sizes):
        answer = cluster.call(
            "GET", f"{LOG}/consistency", "log_consistency", params={"from": old, "to": new}
        )
        if answer is None or answer.status_code != 200:
            bad.append(
                f"consistency {old}->{new}: {None if answer is None else answer.status_code}"
            )
            continue
        proof = [bytes.fromhex(h) for h in answer.json()["proof"]]
        proofs += 1
        if not verify_consistency(
            old, new, bytes.fromhex(distinct[old]), bytes.fromhex(distinct[new]), proof
        ):
            bad.append(f"heads {old} and {new} are not consistent")
    _line(
        lines,
        "tree_heads_consistent",
        not bad and len(heads) > 1,
        f"{len(heads)} heads kept, sizes {min(sizes, default=0)}..{max(sizes, default=0)}, "
        f"{proofs} consistency proofs verified, every head signed by the key set"
        + (f"; {len(bad)} bad: {'; '.join(bad[:5])}" if bad else ""),
    )

    # No 500 but for the corrupt chunk; every 503 with Retry-After.
    unexpected = [
        a
        for a in journal.answers
        if a.status is not None
        and a.status >= 500
        and a.status != 503
        and not (a.what == "download" and (a.session_id, a.seq) in journal.corrupted)
    ]
    _line(
        lines,
        "no_unexpected_5xx",
        not unexpected,
        f"{len(journal.answers)} answers recorded"
        + "".join(
            f"; {a.status} {a.method} {a.what} {a.session_id}/{a.seq} replica {a.replica} at "
            f"{journal.offset(a.at):.1f} s: {a.error[:160]!r}"
            for a in unexpected[:5]
        ),
    )
    unavailable = [a for a in journal.answers if a.status == 503]
    bare = [a for a in unavailable if not a.retry_after]
    _line(
        lines,
        "every_503_has_retry_after",
        not bare,
        f"{len(unavailable)} answers 503, {len(bare)} without Retry-After"
        + "".join(
            f"; {a.what} replica {a.replica} at {journal.offset(a.at):.1f} s" for a in bare[:5]
        ),
    )

    # Other failures the threads recorded as they went.
    for name in (
        "uploads",
        "reuploads",
        "state_changes",
        "auditor",
        "faults",
        "retention",
        "shutdown",
    ):
        found = journal.failures.get(name, [])
        extra = ""
        if name == "reuploads":
            extra = f"{journal.counts.get('reuploads', 0)} chunks sent twice, "
        if name == "auditor":
            extra = (
                f"{journal.counts.get('auditor_downloads', 0)} downloads, "
                f"{journal.counts.get('inclusion_proofs', 0)} inclusion and "
                f"{journal.counts.get('consistency_proofs', 0)} consistency proofs during the run, "
            )
        _line(
            lines,
            name,
            not found,
            f"{extra}{len(found)} failures" + "".join(f"; {f}" for f in found[:5]),
        )

    # Memory and descriptors: the slope over the second half of the run, per replica.
    half = journal.started + (run_end - journal.started) / 2
    slopes_bad: list[int] = []
    details = []
    for number in range(len(stack.replicas)):
        mine = [s for s in samples if s[1] == number and s[0] >= half]
        if not mine:
            details.append(f"replica {number}: no samples")
            continue
        pid = mine[-1][2]
        born = min(s[0] for s in samples if s[2] == pid)
        last = [s for s in mine if s[2] == pid and s[0] >= born + WARM_UP]
        if len(last) < 5:
            details.append(
                f"replica {number}: restarted at {journal.offset(born):.0f} s, too late to judge"
            )
            continue
        rss = _slope([(s[0], float(s[3])) for s in last])
        fds = _slope([(s[0], float(s[4])) for s in last])
        counted = [(s[0], float(s[5])) for s in last if s[5] >= 0]
        tasks = _slope(counted) if len(counted) >= 5 else 0.0
        shown = f"{counted[-1][1]:.0f}" if counted else "?"
        details.append(
            f"replica {number}: RSS {last[-1][3]} KiB {rss:+.0f} KiB/min, fds {last[-1][4]} "
            f"{fds:+.1f}/min, asyncio tasks {shown} {tasks:+.1f}/min over {len(last)} samples"
        )
        if rss > RSS_SLOPE_LIMIT or fds > FDS_SLOPE_LIMIT or tasks > TASKS_SLOPE_LIMIT:
            slopes_bad.append(number)
    _line(
        lines,
        "memory_and_descriptors",
        not slopes_bad,
        "; ".join(details)
        + f" (limits {RSS_SLOPE_LIMIT:.0f} KiB/min, {FDS_SLOPE_LIMIT:.0f} fds/min, "
        f"{TASKS_SLOPE_LIMIT:.0f} tasks/min)",
    )

    # No temporary file in the data folders; no orphan blob in the bucket.
    temporaries = [
        str(path.relative_to(stack.folder))
        for replica in stack.replicas
        for path in replica.data_dir.rglob("*")
        if path.is_file() and (path.name.endswith(".tmp") or ".tmp." in path.name)
    ]
    _line(
        lines,
        "no_temporary_files",
        not temporaries,
        f"{len(temporaries)} temporary files" + (f": {temporaries[:5]}" if temporaries else ""),
    )
    listed = obstore.list(stack.store(), prefix="").collect()
    counts: dict[str, int | None] = {}
    orphans = []
    for meta in listed:
        path = str(meta["path"])
        sid, _, name = path.partition("/")
        if sid not in counts:
            state = cluster.call("GET", f"{BASE}/{sid}", "get")
            counts[sid] = (
                int(state.json()["statistics"]["chunks_count"])
                if state is not None and state.status_code == 200
                else None
            )
        count = counts[sid]
        seq = int(name.split(".")[0]) if name.split(".")[0].isdigit() else -1
        if count is None or not 0 <= seq < count:
            orphans.append(path)
    _line(
        lines,
        "no_orphan_blobs",
        not orphans,
        f"{len(listed)} objects in the bucket, {len(orphans)} orphans"
        + (f": {orphans[:5]}" if orphans else ""),
    )
    return lines, len(lost)


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return (0.0, 0.0, 0.0)
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return statistics.median(ordered), p99, ordered[-1]


def figures(journal: Journal, faults: list[Fault], run_end: float, lost: int) -> list[str]:
    lines = []
    duration = run_end - journal.started
    acks = sorted(journal.acks, key=lambda ack: ack.acked)
    lines.append(
        f"soak.acks_per_second: {len(acks) / duration:.2f} chunks/s over {duration:.0f} s "
        f"({len(acks)} chunks, {len(journal.sessions)} sessions)"
    )
    windows = [
        (f.start, f.end) for f in faults if f.kind not in ("retention_sweep", "corrupt_blob")
    ]

    def during(ack: Any) -> bool:
        return any(ack.started <= end and ack.acked >= start for start, end in windows)

    for label, chosen in (
        ("outside_faults", [a for a in acks if not during(a)]),
        ("during_faults", [a for a in acks if during(a)]),
    ):
        p50, p99, top = _percentiles([1000 * (a.acked - a.started) for a in chosen])
        lines.append(
            f"soak.ack_latency_{label}: p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {top:.0f} ms "
            f"({len(chosen)} chunks)"
        )
    for fault in faults:
        if fault.kind == "retention_sweep":
            continue
        recorders = {a.recorder for a in acks if a.acked < fault.start}
        after = {}
        for ack in acks:
            if ack.acked >= fault.end and ack.recorder not in after:
                after[ack.recorder] = ack.acked - fault.end
        resumed = [after[r] for r in recorders if r in after]
        value = f"{max(resumed):.2f} s" if resumed else "n/a"
        lines.append(
            f"soak.resume_after_{fault.kind}: {value} (every recorder acknowledging again after "
            f"the window {journal.offset(fault.start):.1f}-{journal.offset(fault.end):.1f} s; "
            f"{fault.detail})"
        )
    refused = sum(a.status is None for a in journal.answers)
    unavailable = sum(a.status == 503 for a in journal.answers)
    lines.append(
        f"soak.retried_attempts: {refused + unavailable} attempts ({refused} without an answer, "
        f"{unavailable} answered 503) of {len(journal.answers)}"
    )
    lines.append(f"soak.data_lost: {lost} chunks (must be 0)")
    return lines


def takeover(journal: Journal, faults: list[Fault], stack: Stack) -> list[str]:
    """Sessions stopped through a replica that was then killed before they completed: how
    long after the kill another replica completed them."""
    lines = []
    cluster = Cluster([replica.url for replica in stack.replicas], journal)
    try:
        for fault in faults:
            if fault.kind != "kill_replica":
                continue
            number = int(fault.detail.split()[1])
            for record in journal.sessions.values():
                if record.stop_replica != number or not record.stopped or record.deleted:
                    continue
                if not fault.start - 5.0 <= record.stopped_at <= fault.start:
                    continue
                state = cluster.call("GET", f"{BASE}/{record.session_id}", "get")
                if state is None or state.status_code != 200:
                    continue
                done = state.json().get("completed_at")
                if not done:
                    continue
                seconds = _instant(done).timestamp() - journal.wall(fault.start)
                if seconds > 0:
                    lines.append(
                        f"soak.takeover_seconds: {seconds:.2f} s (session {record.session_id} "
                        f"stopped through replica {number}, completed after its SIGKILL)"
                    )
    finally:
        cluster.close()
    if not lines:
        lines.append("soak.takeover_seconds: n/a (no finalization was left by a killed replica)")
    return lines
