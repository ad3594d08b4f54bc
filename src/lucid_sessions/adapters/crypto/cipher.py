"""`Cipher` adapters on `cryptography`: AES-256-GCM and ChaCha20-Poly1305.

Both take 32-byte keys and a random 96-bit nonce per message (from `os.urandom`), with a
16-byte tag appended to the ciphertext. Random nonces are safe far beyond the number of chunks
one session data key ever seals (NIST's bound for GCM is 2**32 messages per key).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping
from typing import ClassVar, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from lucid_sessions.domain.errors import IntegrityError, InvalidValue
from lucid_sessions.domain.ports.cipher import Cipher, CipherName

__all__ = [
    "KEY_SIZE",
    "NONCE_SIZE",
    "TAG_SIZE",
    "AesGcmCipher",
    "ChaCha20Poly1305Cipher",
    "default_cipher_name",
    "fastest",
    "measure_ciphers",
]

KEY_SIZE: Final = 32
NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16


class _AeadCipher(Cipher):
    """Shared behaviour; subclasses name the algorithm and its `cryptography` class."""

    _name: ClassVar[CipherName]
    _algorithm: ClassVar[type[AESGCM] | type[ChaCha20Poly1305]]

    @property
    def name(self) -> CipherName:
        return self._name

    @property
    def nonce_size(self) -> int:
        return NONCE_SIZE

    def seal(self, key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        if len(key) != KEY_SIZE:
            raise InvalidValue("data_key", f"must be {KEY_SIZE} bytes, got {len(key)}")
        nonce = os.urandom(NONCE_SIZE)
        return nonce, self._algorithm(key).encrypt(nonce, plaintext, aad)

    def open(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        if len(key) != KEY_SIZE or len(nonce) != NONCE_SIZE:
            raise IntegrityError(f"{self._name}: wrong key or nonce size")
        try:
            return self._algorithm(key).decrypt(nonce, ciphertext, aad)
        except (InvalidTag, ValueError, OverflowError) as exc:
            raise IntegrityError(f"{self._name}: authentication failed") from exc


class AesGcmCipher(_AeadCipher):
    """AES-256-GCM: fastest where the CPU has AES instructions."""

    _name = "aes-256-gcm"
    _algorithm = AESGCM


class ChaCha20Poly1305Cipher(_AeadCipher):
    """ChaCha20-Poly1305: constant-time and fast in software (e.g. Raspberry Pi 4)."""

    _name = "chacha20-poly1305"
    _algorithm = ChaCha20Poly1305


_CIPHERS: Final[dict[str, type[_AeadCipher]]] = {
    "aes-256-gcm": AesGcmCipher,
    "chacha20-poly1305": ChaCha20Poly1305Cipher,
}


SAMPLE_BYTES: Final = 256 * 1024
"""How much each cipher seals when `auto` measures them: well under a millisecond each with
hardware support, a few milliseconds under emulation."""


def measure_ciphers(sample_bytes: int = SAMPLE_BYTES, rounds: int = 3) -> dict[CipherName, float]:
    """Seconds each cipher takes to seal `sample_bytes` (the best of `rounds`), here."""
    key, aad = os.urandom(32), b"lucid-sessions cipher choice"
    sample = os.urandom(sample_bytes)
    timings: dict[CipherName, float] = {}
    for name in ("aes-256-gcm", "chacha20-poly1305"):
        cipher = _CIPHERS[name]()
        best = float("inf")
        for _ in range(rounds):
            started = time.perf_counter()
            cipher.seal(key, sample, aad)
            best = min(best, time.perf_counter() - started)
        timings[name] = best
    return timings


def fastest(timings: Mapping[CipherName, float]) -> CipherName:
    """The cipher that took least time (AES-256-GCM on a tie)."""
    return min(timings, key=lambda name: (timings[name], name != "aes-256-gcm"))


@functools.lru_cache(maxsize=1)
def default_cipher_name() -> CipherName:
    """What `LUCID_CIPHER=auto` means: the faster of the two ciphers on this machine, by a
    measurement at start-up. Reading the CPU's flags is not enough: under emulation (qemu)
    /proc/cpuinfo describes the host, and a Raspberry Pi 4 has no AES instructions while a
    Pi 5 has them."""
    return fastest(measure_ciphers())
