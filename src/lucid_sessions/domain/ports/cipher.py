"""Port: an AEAD with 256-bit keys and a random nonce per message."""

from __future__ import annotations

import abc
from typing import Literal, Protocol

__all__ = ["Cipher", "CipherName"]

CipherName = Literal["aes-256-gcm", "chacha20-poly1305"]
"""AEAD names, as they appear in `processing_info.cipher`."""


class Cipher(Protocol):
    """An AEAD with 256-bit keys and a random nonce per message.

    Every failure to authenticate raises `IntegrityError`.
    """

    @property
    @abc.abstractmethod
    def name(self) -> CipherName:
        """The cipher's name, recorded in blob headers."""

    @property
    @abc.abstractmethod
    def nonce_size(self) -> int:
        """Length in bytes of the nonces `seal` returns."""

    @abc.abstractmethod
    def seal(self, key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        """Encrypt under a fresh random nonce; return `(nonce, ciphertext_with_tag)`."""

    @abc.abstractmethod
    def open(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        """Authenticate and decrypt; raise `IntegrityError` on any failure."""
