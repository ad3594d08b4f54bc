"""InMemoryLinkSigner: a playback-link key held in memory, for the tests.

It is a real MAC (keyed BLAKE2b, 32 bytes), not a stand-in that accepts anything, so a test of
the links sees altered and foreign tokens refused as in production; a different algorithm from
the HMAC adapter's, so the contract suite shows that nothing depends on HMAC. `rotate` replaces
the key as `rotate_link_key` replaces the key file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import NoReturn

from lucid_sessions.domain.ports.link_signer import LinkSigner

__all__ = ["InMemoryLinkSigner"]


class InMemoryLinkSigner(LinkSigner):
    """One key at a time, named ``memory-<n>`` (`n` counts the rotations from 1)."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else os.urandom(32)
        self._generation = 1

    def __repr__(self) -> str:
        return f"InMemoryLinkSigner(key_id={self.key_id!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a link signer holds a secret key: it is neither copied nor pickled")

    @property
    def key_id(self) -> str:
        return f"memory-{self._generation}"

    def rotate(self) -> str:
        """Replace the key by a random one (old MACs fail from now on); the new key's id."""
        self._key = os.urandom(32)
        self._generation += 1
        return self.key_id

    def sign(self, payload: bytes) -> bytes:
        return hashlib.blake2b(payload, key=self._key, digest_size=32).digest()

    def verify(self, payload: bytes, mac: bytes, key_id: str) -> bool:
        same_mac = hmac.compare_digest(self.sign(payload), mac)
        return same_mac and key_id == self.key_id
