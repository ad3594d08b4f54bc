"""Offline audit of the session log: signed tree heads, inclusion and consistency proofs.

Needs nothing from the service but the documents it served (`GET /api/v1/sessions/log`,
`.../log/proof`, `.../log/consistency`) and the service's public key or published key set
(`GET /api/v1/sessions/keys`), which the caller trusts. Every check recomputes hashes itself;
a document's own claims (its `leaf_hash`, its `public_key`, its `key_id`) are never taken on
trust. Each function returns the problems found (empty: ok).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lucid_sessions.app.audit import SignatureCheck, signing_key_for
from lucid_sessions.domain.manifest import canonical_json, manifest_sha256
from lucid_sessions.domain.merkle import leaf_hash, verify_consistency, verify_inclusion
from lucid_sessions.domain.ports.signer import SigningKey

__all__ = ["audit_consistency", "audit_entry_for_manifest", "audit_inclusion", "audit_tree_head"]

_HEAD_FIELDS = ("tree_size", "root", "timestamp", "public_key")


def audit_tree_head(
    head: dict[str, Any],
    public_key: bytes | None,
    check_signature: SignatureCheck,
    key_set: Sequence[SigningKey] | None = None,
) -> list[str]:
    """The head is signed by `public_key`, or by the key of `key_set` it names that was not
    retired at its `timestamp` (the trusted keys, not the one the head names). A head signed
    before keys had ids has no `key_id`; its signed fields are the others."""
    if public_key is None and key_set is None:
        return ["no trusted key to check the tree head's signature with"]
    try:
        names = (*_HEAD_FIELDS, "key_id") if "key_id" in head else _HEAD_FIELDS
        unsigned = {name: head[name] for name in names}
        if not isinstance(head["tree_size"], int) or head["tree_size"] < 0:
            return ["malformed tree head: tree_size is not a non-negative integer"]
        bytes.fromhex(head["root"])
        signature = bytes.fromhex(head["signature"])
        key, refused = signing_key_for(head, "tree head", "timestamp", public_key, key_set)
    except (KeyError, TypeError, ValueError) as exc:
        return [f"malformed tree head: {exc!r}"]
    if refused is not None:
        return [refused]
    if key is None or not check_signature(key, canonical_json(unsigned), signature):
        return ["the tree head's signature does not verify"]
    return []


def audit_inclusion(head: dict[str, Any], proof: dict[str, Any]) -> list[str]:
    """The proof's entry is in the log under `head` (whose signature is checked apart)."""
    try:
        entry = proof["entry"]
        index, size = proof["index"], proof["tree_size"]
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        root, head_size = bytes.fromhex(head["root"]), head["tree_size"]
        computed = leaf_hash(canonical_json(entry))
        if not (isinstance(index, int) and isinstance(size, int)):
            return ["malformed proof: index and tree_size must be integers"]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return [f"malformed proof: {exc!r}"]
    problems = []
    if entry.get("index") != index:
        problems.append("the proof's entry has another index than the proof")
    if size != head_size:
        problems.append(
            f"the proof is for tree size {size}, the head for {head_size}: fetch "
            f".../log/proof?index={index}&tree_size={head_size}"
        )
    elif not verify_inclusion(computed, index, size, path, root):
        problems.append("the entry is not in the log under this tree head (proof fails)")
    return problems


def audit_entry_for_manifest(manifest: dict[str, Any], entry: dict[str, Any]) -> list[str]:
    """`entry` is the `completed` entry of exactly this signed manifest."""
    if entry.get("type") != "completed":
        return [f"the log entry is a {entry.get('type')!r} entry, not 'completed'"]
    try:
        expected = {
            "session_id": manifest["session_id"],
            "merkle_root": manifest["merkle_root"],
            "chunks_count": manifest["chunks_count"],
            "size_bytes": manifest["size_bytes"],
            "manifest_sha256": manifest_sha256(manifest),
        }
    except (KeyError, TypeError, ValueError) as exc:
        return [f"malformed manifest: {exc!r}"]
    return [
        f"the log entry's {name} differs from the manifest's"
        for name, value in expected.items()
        if entry.get(name) != value
    ]


def audit_consistency(
    older: dict[str, Any], newer: dict[str, Any], proof: dict[str, Any]
) -> list[str]:
    """The log under `newer` extends the log under `older`: nothing was removed or rewritten
    in between (the heads' signatures are checked apart)."""
    try:
        first, second = older["tree_size"], newer["tree_size"]
        old_root, new_root = bytes.fromhex(older["root"]), bytes.fromhex(newer["root"])
        hashes = [bytes.fromhex(h) for h in proof["proof"]]
        claimed = (proof["from"], proof["to"])
    except (KeyError, TypeError, ValueError) as exc:
        return [f"malformed consistency proof: {exc!r}"]
    if claimed != (first, second):
        return [
            f"the proof is from {claimed[0]} to {claimed[1]}, the heads are {first} and "
            f"{second}: fetch .../log/consistency?from={first}&to={second}"
        ]
    if not verify_consistency(first, second, old_root, new_root, hashes):
        return ["the newer tree head does not extend the older one (the log was rewritten)"]
    return []
