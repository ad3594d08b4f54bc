"""Port: the service's playback-link key, which signs and verifies link tokens."""

from __future__ import annotations

import abc
from typing import Protocol

__all__ = ["LinkSigner"]


class LinkSigner(Protocol):
    """MACs of playback-link tokens (`lucid_sessions.domain.playback_link`) under the
    service's link key, a symmetric key of its own (never an API token or another key).

    Only the implementation holds the key: callers see its id, a MAC and a yes or no, so the
    key can live in a file today and in an HSM (a PKCS#11 token) later. One key signs at a
    time; replacing it (rotation) makes every MAC of the old key fail, which is how every
    outstanding link is ended.
    """

    @property
    @abc.abstractmethod
    def key_id(self) -> str:
        """The id of the current key, stable across restarts and replicas, and
        ``[A-Za-z0-9_-]{1,64}`` (the token names it). It reveals nothing of the key."""

    @abc.abstractmethod
    def sign(self, payload: bytes) -> bytes:
        """The MAC of `payload` under the current key: 16 to 64 bytes."""

    @abc.abstractmethod
    def verify(self, payload: bytes, mac: bytes, key_id: str) -> bool:
        """Whether `mac` is the MAC of `payload` under the key `key_id`, compared in constant
        time; False for a key id this signer does not hold (never an exception)."""
