"""The AEAD adapters by name, as the tests choose them."""

from __future__ import annotations

from lucid_sessions.adapters.crypto.cipher import AesGcmCipher, ChaCha20Poly1305Cipher
from lucid_sessions.domain.errors import InvalidValue
from lucid_sessions.domain.ports.cipher import Cipher

__all__ = ["cipher_by_name"]

_CIPHERS: dict[str, type[AesGcmCipher | ChaCha20Poly1305Cipher]] = {
    "aes-256-gcm": AesGcmCipher,
    "chacha20-poly1305": ChaCha20Poly1305Cipher,
}


def cipher_by_name(name: str) -> Cipher:
    """The cipher called `name`; `InvalidValue("cipher", ...)` for any other name."""
    try:
        return _CIPHERS[name]()
    except KeyError:
        expected = ", ".join(_CIPHERS)
        raise InvalidValue("cipher", f"unknown cipher {name!r} (expected {expected})") from None
