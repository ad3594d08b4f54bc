"""Contract of the `Signer` port: the file signer (generated, and loaded from a key file) and
the PKCS#11 signer (Ed25519 inside a SoftHSM2 token)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from blake3 import blake3

from lucid_sessions.adapters.crypto.keyring import KeySources
from lucid_sessions.adapters.crypto.secret_files import write_secret_file
from lucid_sessions.adapters.crypto.signer import Ed25519Signer, load_signer, verify_signature
from lucid_sessions.adapters.pkcs11 import Pkcs11Signer
from lucid_sessions.domain.ports.signer import Signer
from tests.softhsm import SoftHsmToken

MESSAGES = [b"", b'{"session_id":"s1","merkle_root":"ab12"}', bytes(range(256)) * 64]
SIGNERS = ["generated", "file", "pkcs11"]


@dataclass
class SignerUnderTest:
    """A signer, and how to open a second one on the same key (file, PEM or token)."""

    signer: Signer
    reload: Callable[[], Signer]


def _generated() -> SignerUnderTest:
    signer = Ed25519Signer.generate()
    pem = signer.to_pem()
    return SignerUnderTest(signer, lambda: Ed25519Signer.from_pem(pem, "test"))


def _from_file(tmp_path: Path) -> SignerUnderTest:
    path = tmp_path / "keys" / "signing-key.pem"
    write_secret_file(path, Ed25519Signer.generate().to_pem(), replace=False)

    def load() -> Signer:
        sources = KeySources(signing_key_file=str(path))
        return load_signer(sources, tmp_path / "unused", production=True)

    return SignerUnderTest(load(), load)


def _pkcs11(token: SoftHsmToken) -> SignerUnderTest:
    def load(*, create: bool) -> Signer:
        return Pkcs11Signer(token.module, token.token_label, token.pin, create=create)

    return SignerUnderTest(load(create=True), lambda: load(create=False))


@pytest.fixture(params=SIGNERS)
def under_test(request: pytest.FixtureRequest, tmp_path: Path) -> SignerUnderTest:
    if request.param == "generated":
        return _generated()
    if request.param == "file":
        return _from_file(tmp_path)
    return _pkcs11(request.getfixturevalue("softhsm_token"))


@pytest.fixture
def signer(under_test: SignerUnderTest) -> Signer:
    return under_test.signer


def test_the_public_key_is_32_raw_bytes(signer: Signer) -> None:
    public_key = signer.public_key()
    assert isinstance(public_key, bytes)
    assert len(public_key) == 32


def test_the_key_id_is_the_blake3_prefix_of_the_public_key(signer: Signer) -> None:
    assert signer.key_id == blake3(signer.public_key()).hexdigest()[:16]
    assert len(signer.key_id) == 16
    int(signer.key_id, 16)


@pytest.mark.parametrize("message", MESSAGES, ids=["empty", "manifest", "16k"])
def test_signatures_verify_with_verify_signature(signer: Signer, message: bytes) -> None:
    signature = signer.sign(message)
    assert len(signature) == 64
    assert verify_signature(signer.public_key(), message, signature)


def test_a_changed_message_or_signature_fails(signer: Signer) -> None:
    message = MESSAGES[1]
    signature = signer.sign(message)
    assert not verify_signature(signer.public_key(), message + b" ", signature)
    assert not verify_signature(signer.public_key(), b"x" + message[1:], signature)
    for index in (0, 31, 32, 63):
        flipped = bytearray(signature)
        flipped[index] ^= 0x01
        assert not verify_signature(signer.public_key(), message, bytes(flipped))
    assert not verify_signature(signer.public_key(), message, signature[:-1])
    other = Ed25519Signer.generate().public_key()
    assert not verify_signature(other, message, signature)


def test_ed25519_signatures_are_deterministic(signer: Signer) -> None:
    for message in MESSAGES:
        assert signer.sign(message) == signer.sign(message)
    assert signer.sign(MESSAGES[0]) != signer.sign(MESSAGES[1])


def test_the_key_is_stable_across_reloads(under_test: SignerUnderTest) -> None:
    first = under_test.signer
    second = under_test.reload()
    assert second.key_id == first.key_id
    assert second.public_key() == first.public_key()
    message = MESSAGES[1]
    assert second.sign(message) == first.sign(message)  # the same key, deterministic
    assert verify_signature(first.public_key(), message, second.sign(message))
