"""Signing with the current key, however a rotation elsewhere interleaves."""

from __future__ import annotations

from collections.abc import Callable

from lucid_sessions.domain.errors import SigningKeyRetired
from lucid_sessions.domain.ports.signer import Signer, SigningKey

__all__ = ["sign_with_current_key"]

_ATTEMPTS = 3


def sign_with_current_key(
    signer: Signer, build: Callable[[SigningKey], bytes]
) -> tuple[SigningKey, bytes]:
    """The current key and its signature of `build(key)` (the message names the key, so it is
    built again when a rotation retires the key between reading and signing). After three
    rotations in a row `SigningKeyRetired` (503, try again) reaches the caller."""
    for attempt in range(_ATTEMPTS):
        key = signer.current()
        try:
            return key, signer.sign(key.key_id, build(key))
        except SigningKeyRetired:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
