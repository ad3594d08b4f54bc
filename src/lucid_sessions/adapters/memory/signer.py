"""InMemorySigner: Ed25519 signing keys held in memory, for the domain and application tests.

The signatures are real Ed25519 ones (so a test of manifests and tree heads sees forged ones
refused as in production); the key set behaves as the file and token signers' do: one current
key, `rotate` retires it and makes the next, a retired key never signs again.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import NoReturn

from blake3 import blake3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lucid_sessions.domain.errors import SigningKeyRetired
from lucid_sessions.domain.ports.signer import Signer, SigningKey

__all__ = ["InMemorySigner"]

_RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _public(private: Ed25519PrivateKey, created_at: datetime | None) -> SigningKey:
    raw = private.public_key().public_bytes(*_RAW)
    return SigningKey(blake3(raw).hexdigest()[:16], raw, created_at)


class InMemorySigner(Signer):
    """One current Ed25519 key (made at construction) and the retired ones before it."""

    def __init__(
        self, created_at: datetime | None = None, private_key: Ed25519PrivateKey | None = None
    ) -> None:
        self._private = private_key if private_key is not None else Ed25519PrivateKey.generate()
        self._keys = [_public(self._private, created_at)]
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"InMemorySigner(current={self._keys[-1].key_id!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a signer holds a private key: it is neither copied nor pickled")

    def current(self) -> SigningKey:
        return self._keys[-1]

    def sign(self, key_id: str, message: bytes) -> bytes:
        with self._lock:
            if key_id != self._keys[-1].key_id:
                raise SigningKeyRetired(key_id)
            return self._private.sign(message)

    def key_set(self) -> list[SigningKey]:
        return list(self._keys)

    def rotate(self, now: datetime) -> SigningKey:
        with self._lock:
            previous = self._keys[-1]
            self._private = Ed25519PrivateKey.generate()
            self._keys[-1] = SigningKey(
                previous.key_id, previous.public_key, previous.created_at, now
            )
            self._keys.append(_public(self._private, now))
            return self._keys[-1]
