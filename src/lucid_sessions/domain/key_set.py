"""The published key set of the service's signing keys, and what a key may verify.

The document is the body of `GET /api/v1/sessions/keys`, the file store's key set file and what
`audit --key-set FILE` reads: `{"keys": [{key_id, algorithm: "ed25519", public_key (hex),
status ("current" | "retired"), created_at, retired_at}]}` with RFC 3339 times (`created_at`
null when unknown, `retired_at` null while current). A key verifies a signature made at time T
only if T is not after its retirement: a retired key never signs again, so anything it signed
later is a forgery.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final

from blake3 import blake3

from lucid_sessions.domain.errors import InvalidValue
from lucid_sessions.domain.instants import parse_timestamp
from lucid_sessions.domain.manifest import rfc3339
from lucid_sessions.domain.ports.signer import SIGNING_ALGORITHM, SigningKey

__all__ = [
    "key_id_of",
    "key_set_document",
    "key_verifies_at",
    "parse_key_set",
    "signing_key_document",
    "trusted_key",
]

_KEY_ID: Final = re.compile(r"[0-9a-f]{16}")
_PUBLIC_KEY: Final = re.compile(r"[0-9a-f]{64}")
MAX_KEYS: Final = 10_000


def key_id_of(public_key: bytes) -> str:
    """The id of a raw Ed25519 public key: the first 16 hex digits of its BLAKE3."""
    return blake3(public_key).hexdigest()[:16]


def signing_key_document(key: SigningKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "algorithm": SIGNING_ALGORITHM,
        "public_key": key.public_key.hex(),
        "status": key.status,
        "created_at": rfc3339(key.created_at),
        "retired_at": rfc3339(key.retired_at),
    }


def key_set_document(keys: list[SigningKey]) -> dict[str, Any]:
    return {"keys": [signing_key_document(key) for key in keys]}


def _time(entry: dict[str, Any], name: str, where: str) -> datetime | None:
    raw = entry.get(name)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidValue(where, f"{name} must be an RFC 3339 string or null")
    return parse_timestamp(raw, f"{where}.{name}")


def parse_key_set(document: Any) -> list[SigningKey]:
    """The keys of a key set document; `InvalidValue` naming the first problem. Each key id
    must match its public key, and at most one key may be current."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise InvalidValue("keys", 'a key set is an object {"keys": [...]}')
    entries = document["keys"]
    if len(entries) > MAX_KEYS:
        raise InvalidValue("keys", f"at most {MAX_KEYS} keys")
    keys: list[SigningKey] = []
    for index, entry in enumerate(entries):
        where = f"keys[{index}]"
        if not isinstance(entry, dict):
            raise InvalidValue(where, "each key is an object")
        if entry.get("algorithm") != SIGNING_ALGORITHM:
            raise InvalidValue(where, f'algorithm must be "{SIGNING_ALGORITHM}"')
        public_hex, key_id = entry.get("public_key"), entry.get("key_id")
        if not isinstance(public_hex, str) or not _PUBLIC_KEY.fullmatch(public_hex):
            raise InvalidValue(where, "public_key must be 64 lowercase hex digits")
        if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
            raise InvalidValue(where, "key_id must be 16 lowercase hex digits")
        public_key = bytes.fromhex(public_hex)
        if key_id_of(public_key) != key_id:
            raise InvalidValue(where, "key_id is not the BLAKE3 prefix of public_key")
        created_at = _time(entry, "created_at", where)
        retired_at = _time(entry, "retired_at", where)
        status = entry.get("status")
        if status not in ("current", "retired") or (status == "current") != (retired_at is None):
            raise InvalidValue(where, 'status is "current" (no retired_at) or "retired" (with it)')
        keys.append(SigningKey(key_id, public_key, created_at, retired_at))
    if len({key.key_id for key in keys}) != len(keys):
        raise InvalidValue("keys", "a key id appears twice")
    if sum(key.retired_at is None for key in keys) > 1:
        raise InvalidValue("keys", "more than one key is current")
    return keys


def key_verifies_at(key: SigningKey, signed_at: datetime | None) -> bool:
    """Whether `key` may have made a signature dated `signed_at` (None: undated, which only
    the current key may have made)."""
    if key.retired_at is None:
        return True
    return signed_at is not None and signed_at <= key.retired_at


def trusted_key(
    keys: list[SigningKey], key_id: str | None, public_key: bytes | None
) -> SigningKey | None:
    """The key of the set that a signed document names: by `key_id`, else (documents signed
    before key ids existed) by its public key; None when the set does not hold it."""
    for key in keys:
        if key_id is not None and key.key_id == key_id:
            return key
        if key_id is None and public_key is not None and key.public_key == public_key:
            return key
    return None
