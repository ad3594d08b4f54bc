"""The operator's commands: each takes the use cases it needs, prints, and returns an exit
status (0 success, 1 a check failed, 2 the command could not run)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from lucid_sessions.adapters.crypto.signer import raw_public_key_from_pem
from lucid_sessions.app.audit import SignatureCheck, audit_manifest
from lucid_sessions.app.usecases.rotate_keys import RewrapDataKeys
from lucid_sessions.app.usecases.verify import VerifySession
from lucid_sessions.domain.errors import DomainError
from lucid_sessions.domain.principal import SYSTEM

__all__ = ["audit", "check_config", "rotate_keys", "verify"]


def check_config(effective: Mapping[str, Any], out: TextIO = sys.stdout) -> int:
    """Print the effective configuration (already masked by the caller)."""
    print(json.dumps(effective, indent=2, sort_keys=True), file=out)
    return 0


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


def _pieces(path: str) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while piece := handle.read(1 << 20):
            yield piece


NOT_TRUSTED = (
    "result: NOT VERIFIED: the signature was not checked against a key you trust; pass "
    "--public-key HEX or --public-key-file FILE with the service's public key (the key "
    "written in the manifest proves nothing: a forger writes their own)"
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


def audit(
    manifest_path: str,
    public_key_hex: str | None,
    recording_path: str | None,
    check_signature: SignatureCheck,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    public_key_file: str | None = None,
) -> int:
    """Offline audit of a manifest (and a downloaded recording); needs no configuration.

    0: authentic (signed by the key the user trusts, chunks and root consistent, recording
    matching); 1: a problem was found; 2: could not audit, or no trusted key was given.
    """
    try:
        with open(manifest_path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except (OSError, ValueError) as exc:
        print(f"lucid-sessions audit: cannot read the manifest: {exc}", file=err)
        return 2
    try:
        trusted = _trusted_key(public_key_hex, public_key_file)
    except (OSError, ValueError) as exc:
        print(f"lucid-sessions audit: cannot read the trusted public key: {exc}", file=err)
        return 2
    try:
        recording = None if recording_path is None else _pieces(recording_path)
        report = audit_manifest(manifest, trusted, check_signature, recording)
    except OSError as exc:
        print(f"lucid-sessions audit: cannot read the recording: {exc}", file=err)
        return 2
    for problem in report.problems:
        print(f"PROBLEM: {problem}", file=out)
    print(f"chunks checked against the recording: {report.chunks_checked}", file=out)
    if report.problems:
        print("result: FAILED", file=out)
        return 1
    if trusted is None:
        print(NOT_TRUSTED, file=out)
        return 2
    print("result: OK", file=out)
    return 0
