"""Crypto adapters: AEAD ciphers, the master key ring and the signing keys."""

from __future__ import annotations

from lucid_sessions.adapters.crypto.cipher import (
    AesGcmCipher,
    ChaCha20Poly1305Cipher,
    default_cipher_name,
    fastest,
    measure_ciphers,
)
from lucid_sessions.adapters.crypto.keyring import (
    KeyConfigError,
    StaticKeyRing,
    load_master_keys,
    master_key_file_path,
    rotate_master_key,
)
from lucid_sessions.adapters.crypto.signer import (
    Ed25519Signer,
    FileSigner,
    load_signer,
    verify_signature,
)

__all__ = [
    "AesGcmCipher",
    "ChaCha20Poly1305Cipher",
    "Ed25519Signer",
    "FileSigner",
    "KeyConfigError",
    "StaticKeyRing",
    "default_cipher_name",
    "fastest",
    "load_master_keys",
    "load_signer",
    "master_key_file_path",
    "measure_ciphers",
    "rotate_master_key",
    "verify_signature",
]
