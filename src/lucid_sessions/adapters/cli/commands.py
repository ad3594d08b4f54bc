"""The operator's commands: each takes the use cases it needs, prints, and returns an exit
status (0 success, 1 a check failed, 2 the command could not run)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, TextIO

from lucid_sessions.adapters.crypto.signer import raw_public_key_from_pem
from lucid_sessions.app.audit import SignatureCheck, audit_manifest
from lucid_sessions.app.log_audit import (
    audit_consistency,
    audit_entry_for_manifest,
    audit_inclusion,
    audit_tree_head,
)
from lucid_sessions.app.usecases.retention import SweepOutcome, SweepRetention
from lucid_sessions.app.usecases.rotate_keys import RewrapDataKeys
from lucid_sessions.app.usecases.verify import VerifySession
from lucid_sessions.domain.errors import DomainError, InvalidValue
from lucid_sessions.domain.key_set import parse_key_set
from lucid_sessions.domain.manifest import rfc3339
from lucid_sessions.domain.ports.signer import SigningKey
from lucid_sessions.domain.principal import SYSTEM

__all__ = [
    "audit",
    "audit_log",
    "check_config",
    "retention_sweep",
    "rotate_keys",
    "rotate_signing_key",
    "verify",
]


def check_config(
    effective: Mapping[str, Any],
    keys: str | None = None,
    *,
    keys_work: bool = True,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Print the effective configuration (already masked by the caller) as one JSON document,
    then `keys`, the one line saying what the key probe found, on the error stream (stdout
    stays the document); 2 when the keys do not work."""
    print(json.dumps(effective, indent=2, sort_keys=True), file=out)
    if keys is not None:
        print(f"keys: {keys}" if keys_work else f"lucid-sessions: keys: {keys}", file=err)
    return 0 if keys_work else 2


async def verify(
    verify_session: VerifySession,
    session_id: str,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Re-read and authenticate every blob of a session; 1 when anything fails."""
    try:
        report = await verify_session(SYSTEM, session_id)
    except DomainError as exc:
        print(f"lucid-sessions verify: {exc.detail}", file=err)
        return 2
    print("\n".join(report.lines()), file=out)
    return 0 if report.ok else 1


async def rotate_keys(new_id: str, rewrap: RewrapDataKeys, out: TextIO = sys.stdout) -> int:
    """Re-wrap every session data key under the new current master key `new_id`."""
    report = await rewrap()
    print(
        f"master key {new_id} is current; re-wrapped {report.rewrapped} data keys "
        f"({report.already_current} already current, {report.raced} changed meanwhile)",
        file=out,
    )
    return 0


def rotate_signing_key(new: SigningKey, keys: list[SigningKey], out: TextIO = sys.stdout) -> int:
    """Say which signing key is current now and which one the rotation retired (the key
    just before `new` in the key set `keys`, oldest first)."""
    ids = [key.key_id for key in keys]
    position = ids.index(new.key_id) if new.key_id in ids else 0
    retired = keys[position - 1] if position > 0 else None
    if retired is None:
        print(f"signing key {new.key_id} is current; no key was retired", file=out)
    else:
        print(
            f"signing key {new.key_id} is current; {retired.key_id} is retired "
            f"(at {rfc3339(retired.retired_at)}) and still verifies what it signed before",
            file=out,
        )
    return 0


def _pieces(path: str) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while piece := handle.read(1 << 20):
            yield piece


NOT_TRUSTED = (
    "result: NOT VERIFIED: the signature was not checked against a key you trust; pass "
    "--public-key HEX or --public-key-file FILE with the service's public key, or --key-set "
    "FILE with its key set (the key written in the manifest proves nothing: a forger writes "
    "their own)"
)


def _trusted_key(public_key_hex: str | None, public_key_file: str | None) -> bytes | None:
    """The raw Ed25519 key the user trusts: hex on the command line, or a file holding the
    hex or a PEM public key. ValueError or OSError when it cannot be read."""
    if public_key_hex:
        return bytes.fromhex(public_key_hex.strip())
    if public_key_file:
        with open(public_key_file, "rb") as handle:
            text = handle.read()
        if b"-----BEGIN" in text:
            return raw_public_key_from_pem(text)
        return bytes.fromhex(text.decode("ascii").strip())
    return None


def _read_trusted_key(
    public_key_hex: str | None, public_key_file: str | None, command: str, err: TextIO
) -> tuple[bool, bytes | None]:
    """(False, None) after saying why when the key given cannot be read; else (True, the
    key, or None when none was given)."""
    try:
        return True, _trusted_key(public_key_hex, public_key_file)
    except (OSError, ValueError) as exc:
        print(f"lucid-sessions {command}: cannot read the trusted public key: {exc}", file=err)
        return False, None


def _read_key_set(
    path: str | None, command: str, err: TextIO
) -> tuple[bool, list[SigningKey] | None]:
    """(False, None) after saying why when the key set given cannot be read or is not a
    valid key set; else (True, its keys, or None when none was given)."""
    if path is None:
        return True, None
    document = _read_json(path, "the key set", command, err)
    if document is None:
        return False, None
    try:
        return True, parse_key_set(document)
    except InvalidValue as exc:
        print(f"lucid-sessions {command}: {path} is not a valid key set: {exc.detail}", file=err)
        return False, None


def _read_json(path: str, what: str, command: str, err: TextIO) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError) as exc:
        print(f"lucid-sessions {command}: cannot read {what}: {exc}", file=err)
        return None
    if not isinstance(document, dict):
        print(f"lucid-sessions {command}: {what} is not a JSON object", file=err)
        return None
    return document


def audit(
    manifest_path: str,
    public_key_hex: str | None,
    recording_path: str | None,
    check_signature: SignatureCheck,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    public_key_file: str | None = None,
    log_head_path: str | None = None,
    log_proof_path: str | None = None,
    key_set_path: str | None = None,
) -> int:
    """Offline audit of a manifest (and a downloaded recording, and its entry in the session
    log); needs no configuration.

    0: authentic (signed by the key the user trusts, or by a key of the key set the user
    trusts that was not retired when it signed; chunks and root consistent, recording
    matching, the completed entry in the log under a head signed the same way); 1: a problem
    was found; 2: could not audit, or no trusted key was given.
    """
    manifest = _read_json(manifest_path, "the manifest", "audit", err)
    if manifest is None:
        return 2
    log_head = log_proof = None
    if log_head_path is not None and log_proof_path is not None:
        log_head = _read_json(log_head_path, "the log head", "audit", err)
        log_proof = _read_json(log_proof_path, "the log proof", "audit", err)
        if log_head is None or log_proof is None:
            return 2
    found, trusted = _read_trusted_key(public_key_hex, public_key_file, "audit", err)
    if not found:
        return 2
    found, key_set = _read_key_set(key_set_path, "audit", err)
    if not found:
        return 2
    try:
        recording = None if recording_path is None else _pieces(recording_path)
        report = audit_manifest(manifest, trusted, check_signature, recording, key_set)
    except OSError as exc:
        print(f"lucid-sessions audit: cannot read the recording: {exc}", file=err)
        return 2
    problems = list(report.problems)
    if log_head is not None and log_proof is not None:
        if trusted is not None or key_set is not None:
            problems += audit_tree_head(log_head, trusted, check_signature, key_set)
        problems += audit_inclusion(log_head, log_proof)
        entry = log_proof.get("entry")
        problems += audit_entry_for_manifest(manifest, entry if isinstance(entry, dict) else {})
    for problem in problems:
        print(f"PROBLEM: {problem}", file=out)
    print(f"chunks checked against the recording: {report.chunks_checked}", file=out)
    if log_head is not None and not problems:
        print(f"in the session log under tree size {log_head['tree_size']}: yes", file=out)
    if problems:
        print("result: FAILED", file=out)
        return 1
    if trusted is None and key_set is None:
        print(NOT_TRUSTED, file=out)
        return 2
    print("result: OK", file=out)
    return 0


def audit_log(
    head_path: str,
    public_key_hex: str | None,
    public_key_file: str | None,
    check_signature: SignatureCheck,
    proof_path: str | None = None,
    older_head_path: str | None = None,
    consistency_path: str | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    key_set_path: str | None = None,
) -> int:
    """Offline audit of the session log: the head's signature under the trusted key (or a
    key of the trusted key set, unretired at the head's timestamp), an entry's inclusion
    under it, and that it extends an older head (signed the same way).
    0: all verified; 1: a problem was found; 2: could not audit."""
    head = _read_json(head_path, "the tree head", "audit-log", err)
    if head is None:
        return 2
    found, trusted = _read_trusted_key(public_key_hex, public_key_file, "audit-log", err)
    if not found:
        return 2
    found, key_set = _read_key_set(key_set_path, "audit-log", err)
    if not found:
        return 2
    if trusted is None and key_set is None:
        print("lucid-sessions audit-log: a trusted public key or key set is required", file=err)
        return 2
    problems = audit_tree_head(head, trusted, check_signature, key_set)
    signer = "the trusted key"
    if key_set is not None:
        signer = f"key {head['key_id']} of the key set" if "key_id" in head else "the key set"
    checked = [f"tree head of size {head.get('tree_size')} signed by {signer}"]
    if proof_path is not None:
        proof = _read_json(proof_path, "the inclusion proof", "audit-log", err)
        if proof is None:
            return 2
        problems += audit_inclusion(head, proof)
        entry = proof.get("entry")
        if isinstance(entry, dict):
            checked.append(
                f"entry {entry.get('index')} ({entry.get('type')} {entry.get('session_id')}"
                f"{', reason ' + str(entry['reason']) if entry.get('reason') else ''}) is in it"
            )
    if older_head_path is not None and consistency_path is not None:
        older = _read_json(older_head_path, "the older tree head", "audit-log", err)
        consistency = _read_json(consistency_path, "the consistency proof", "audit-log", err)
        if older is None or consistency is None:
            return 2
        problems += [
            f"older head: {p}" for p in audit_tree_head(older, trusted, check_signature, key_set)
        ]
        problems += audit_consistency(older, head, consistency)
        checked.append(f"it extends the older head of size {older.get('tree_size')}")
    for problem in problems:
        print(f"PROBLEM: {problem}", file=out)
    if problems:
        print("result: FAILED", file=out)
        return 1
    for line in checked:
        print(f"verified: {line}", file=out)
    print("result: OK", file=out)
    return 0


async def retention_sweep(
    sweep: SweepRetention,
    as_of: datetime | None,
    dry_run: bool,
    out: TextIO = sys.stdout,
) -> int:
    """One sweep now: a JSON line per session deleted (or that would be), then a summary."""
    swept = await sweep(as_of, dry_run=dry_run)
    counts: dict[str, int] = {}
    for item in swept:
        counts[item.outcome] = counts.get(item.outcome, 0) + 1
        line = {
            "session_id": item.session_id,
            "outcome": item.outcome,
            "expired_at": rfc3339(item.expired_at),
        }
        if item.detail:
            line["detail"] = item.detail
        print(json.dumps(line, sort_keys=True), file=out)
    summary = {
        "summary": {
            "as_of": rfc3339(as_of),
            "dry_run": dry_run,
            **{outcome: counts.get(outcome, 0) for outcome in SweepOutcome.ALL},
        }
    }
    print(json.dumps(summary, sort_keys=True), file=out)
    return 0
