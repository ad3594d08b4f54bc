"""Port: the service's signing keys (Ed25519): the current key signs, retired keys are
published so what they signed before their retirement still verifies."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

__all__ = ["SIGNING_ALGORITHM", "Signer", "SigningKey"]

SIGNING_ALGORITHM = "ed25519"


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A public signing key of the service, as its key set publishes it.

    `key_id` is the first 16 hex digits of BLAKE3 of the raw 32-byte `public_key`.
    `created_at` may be None for a key provisioned by hand whose making time is unknown;
    `retired_at` is None while the key is current, else the moment it stopped signing.
    """

    key_id: str
    public_key: bytes
    created_at: datetime | None
    retired_at: datetime | None = None

    @property
    def status(self) -> Literal["current", "retired"]:
        return "current" if self.retired_at is None else "retired"


class Signer(Protocol):
    """The service's signing keys, shared by every replica on the same key folder or token.

    Exactly one key is current at a time. A rotation (by this process or another one) makes
    a new current key and retires the previous one, which never signs again.
    """

    @abc.abstractmethod
    def current(self) -> SigningKey:
        """The key that signs now, read from the shared store (a rotation made elsewhere is
        seen); `StorageUnavailable` when the store cannot be read."""

    @abc.abstractmethod
    def sign(self, key_id: str, message: bytes) -> bytes:
        """A 64-byte Ed25519 signature of `message` by the key `key_id`, which must be the
        current key: `SigningKeyRetired` when it no longer is (take `current()` again and
        rebuild what is signed), `StorageUnavailable` when the store cannot be used."""

    @abc.abstractmethod
    def key_set(self) -> list[SigningKey]:
        """Every key, current and retired, oldest first."""

    @abc.abstractmethod
    def rotate(self, now: datetime) -> SigningKey:
        """Make a new current key and retire the previous one at `now`; the new key."""
