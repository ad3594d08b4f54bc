"""`Signer` on Ed25519, its key loading, and signature verification for auditors.

The key is an unencrypted PKCS8 PEM file: the setting `LUCID_SIGNING_KEY_FILE`, else
(development only) `<data dir>/keys/signing-key.pem`, generated once with mode 0600.
Production without the setting stops with `KeyConfigError`. `key_id` is the first 16 hex
characters of BLAKE3(raw 32-byte public key).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from blake3 import blake3
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lucid_sessions.adapters.crypto.keyring import KeyConfigError, KeySources, read_key_file
from lucid_sessions.adapters.crypto.secret_files import (
    write_secret_file,
)
from lucid_sessions.domain.ports.signer import Signer

__all__ = [
    "SIGNING_KEY_FILE_ENV",
    "Ed25519Signer",
    "load_signer",
    "raw_public_key_from_pem",
    "verify_signature",
]

SIGNING_KEY_FILE_ENV: Final = "LUCID_SIGNING_KEY_FILE"
_RAW: Final = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class Ed25519Signer(Signer):
    """Signs with one Ed25519 private key; signatures are 64 bytes."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self._public_key = private_key.public_key().public_bytes(*_RAW)
        self._key_id = blake3(self._public_key).hexdigest()[:16]

    @classmethod
    def generate(cls) -> Ed25519Signer:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes, where: str) -> Ed25519Signer:
        """Load an unencrypted PKCS8 PEM key; `KeyConfigError` naming `where` otherwise."""
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise KeyConfigError(f"{where}: not an unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyConfigError(f"{where}: expected an Ed25519 key, got {type(key).__name__}")
        return cls(key)

    def to_pem(self) -> bytes:
        """The private key as unencrypted PKCS8 PEM (secret)."""
        return self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def key_id(self) -> str:
        return self._key_id

    def public_key(self) -> bytes:
        return self._public_key

    def sign(self, message: bytes) -> bytes:
        return self._private_key.sign(message)


def load_signer(
    sources: KeySources, data_dir: Path, production: bool, *, generate: bool = True
) -> Ed25519Signer:
    """The signer from `LUCID_SIGNING_KEY_FILE`, or the development key file (made once)."""
    configured = sources.signing_key_file.strip()
    if configured:
        where = f"{SIGNING_KEY_FILE_ENV} ({configured})"
        return _read_signer(Path(configured), where, production=production)
    if production:
        raise KeyConfigError(
            f"no signing key configured: set {SIGNING_KEY_FILE_ENV} to an Ed25519 private key "
            "(PKCS8 PEM, unencrypted); production never generates keys"
        )
    path = data_dir / "keys" / "signing-key.pem"
    if not path.exists():
        if not generate:
            raise KeyConfigError(f"{path}: no signing key file, and none is made here")
        write_secret_file(path, Ed25519Signer.generate().to_pem(), replace=False)
    return _read_signer(path, str(path))


def raw_public_key_from_pem(pem: bytes) -> bytes:
    """The raw 32 bytes of an Ed25519 public key in PEM; ValueError for anything else."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"expected an Ed25519 public key, got {type(key).__name__}")
    return key.public_bytes(*_RAW)


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is a valid Ed25519 signature of `message` by raw `public_key`."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _read_signer(path: Path, where: str, *, production: bool = False) -> Ed25519Signer:
    pem = read_key_file(path, where, "signing key", production=production)
    return Ed25519Signer.from_pem(pem, where)
