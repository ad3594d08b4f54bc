"""The Ed25519 signer, its key loading, and offline verification."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from blake3 import blake3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lucid_sessions.adapters.crypto.keyring import KeyConfigError, KeySources
from lucid_sessions.adapters.crypto.signer import Ed25519Signer, load_signer, verify_signature

MESSAGE = b'{"session_id":"s1","merkle_root":"ab12"}'


def test_sign_and_verify() -> None:
    signer = Ed25519Signer.generate()
    signature = signer.sign(MESSAGE)
    assert len(signature) == 64
    assert len(signer.public_key()) == 32
    assert verify_signature(signer.public_key(), MESSAGE, signature)


def test_key_id_is_a_blake3_prefix_of_the_public_key() -> None:
    signer = Ed25519Signer.generate()
    assert signer.key_id == blake3(signer.public_key()).hexdigest()[:16]
    assert signer.key_id != Ed25519Signer.generate().key_id


def test_tampered_message_or_signature_fails() -> None:
    signer = Ed25519Signer.generate()
    signature = signer.sign(MESSAGE)
    assert not verify_signature(signer.public_key(), MESSAGE + b" ", signature)
    assert not verify_signature(signer.public_key(), MESSAGE, bytes(64))
    assert not verify_signature(signer.public_key(), MESSAGE, signature[:-1])
    assert not verify_signature(Ed25519Signer.generate().public_key(), MESSAGE, signature)
    assert not verify_signature(b"short", MESSAGE, signature)


def test_development_key_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    first = load_signer(KeySources(), tmp_path, production=False)
    path = tmp_path / "keys" / "signing-key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    second = load_signer(KeySources(), tmp_path, production=False)
    assert second.public_key() == first.public_key()
    assert verify_signature(first.public_key(), MESSAGE, second.sign(MESSAGE))


def test_configured_key_file_is_used(tmp_path: Path) -> None:
    signer = Ed25519Signer.generate()
    path = tmp_path / "service.pem"
    path.write_bytes(signer.to_pem())
    path.chmod(0o600)
    env = KeySources(signing_key_file=str(path))
    assert load_signer(env, tmp_path, production=True).key_id == signer.key_id
    assert not (tmp_path / "keys").exists()


def test_production_without_a_key_stops(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match="LUCID_SIGNING_KEY_FILE"):
        load_signer(KeySources(), tmp_path, production=True)
    assert not (tmp_path / "keys").exists()


def test_missing_or_wrong_key_files_name_the_setting(tmp_path: Path) -> None:
    env = KeySources(signing_key_file=str(tmp_path / "missing.pem"))
    with pytest.raises(KeyConfigError, match=r"LUCID_SIGNING_KEY_FILE.*does not exist"):
        load_signer(env, tmp_path, production=False)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    with pytest.raises(KeyConfigError, match="LUCID_SIGNING_KEY_FILE"):
        load_signer(KeySources(signing_key_file=str(garbage)), tmp_path, production=False)


def test_non_ed25519_or_encrypted_keys_are_refused(tmp_path: Path) -> None:
    ec_key = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyConfigError, match="expected an Ed25519 key"):
        Ed25519Signer.from_pem(ec_key, "test")
    locked = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with pytest.raises(KeyConfigError, match="unencrypted"):
        Ed25519Signer.from_pem(locked, "test")
