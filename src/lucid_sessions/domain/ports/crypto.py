"""Ports for the chunk pipeline's pure computation: compression, AEAD, key wrapping, signing.

Ports are `typing.Protocol` classes whose methods are abstract; adapters subclass them
explicitly, so a missing method fails at construction and mypy checks every signature where the
adapter is defined. Every failure to authenticate or decode raises `IntegrityError`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = [
    "Algorithm",
    "Cipher",
    "CipherName",
    "Compressor",
    "KeyRing",
    "Signer",
    "WrappedKey",
]

Algorithm = Literal["none", "zstd", "lz4"]
"""Compression algorithm names, as they appear in `recording_config.compression`."""

CipherName = Literal["aes-256-gcm", "chacha20-poly1305"]
"""AEAD names, as they appear in `processing_info.cipher`."""


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A session data key encrypted ("wrapped") by the master key named `key_id`."""

    key_id: str
    wrapped: bytes


class Compressor(Protocol):
    """Compresses chunk bytes; decompression is bounded by the size the caller expects."""

    @abc.abstractmethod
    def compress(self, algorithm: Algorithm, data: bytes, level: int | None) -> bytes:
        """Compress `data`; `level=None` picks the algorithm's default.

        Raises `InvalidValue` for an unknown algorithm or a level out of its range.
        """

    @abc.abstractmethod
    def decompress(self, algorithm: Algorithm, data: bytes, original_size: int) -> bytes:
        """Return exactly `original_size` bytes.

        Raises `IntegrityError` when `data` is malformed or does not expand to exactly
        `original_size` bytes. Never allocates more than about `original_size` bytes of output,
        whatever `data` claims (decompression-bomb safe).
        """


class Cipher(Protocol):
    """An AEAD with 256-bit keys and a random nonce per message."""

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


class KeyRing(Protocol):
    """Master keys by id; creates, unwraps and re-wraps session data keys."""

    @property
    @abc.abstractmethod
    def current_key_id(self) -> str:
        """Id of the master key that wraps new data keys."""

    @abc.abstractmethod
    def new_data_key(self) -> tuple[bytes, WrappedKey]:
        """A random 32-byte data key, and the same key wrapped under the current master key."""

    @abc.abstractmethod
    def unwrap(self, wrapped: WrappedKey) -> bytes:
        """The plaintext data key; `IntegrityError` for an unknown key id or tampered bytes."""

    @abc.abstractmethod
    def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
        """The same data key wrapped under the current master key (for key rotation)."""


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
