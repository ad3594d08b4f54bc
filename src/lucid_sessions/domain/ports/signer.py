"""Port: the service's long-term signing key (Ed25519)."""

from __future__ import annotations

import abc
from typing import Protocol

__all__ = ["Signer"]


class Signer(Protocol):
    """Signs manifests with the service's long-term key (Ed25519)."""

    @property
    @abc.abstractmethod
    def key_id(self) -> str:
        """A short stable identifier of the public key."""

    @abc.abstractmethod
    def public_key(self) -> bytes:
        """The raw public key (32 bytes for Ed25519)."""

    @abc.abstractmethod
    def sign(self, message: bytes) -> bytes:
        """A signature of `message`."""
