"""Contract of the `Signer` port: the in-memory fake, the file signer (a key folder) and the
PKCS#11 signer (Ed25519 inside a SoftHSM2 token).

Rotation times are whole seconds: the token keeps a key's making time in whole seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from blake3 import blake3

from lucid_sessions.adapters.crypto.keyring import KeySources
from lucid_sessions.adapters.crypto.signer import (
    Ed25519Signer,
    FileSigner,
    load_signer,
    verify_signature,
)
from lucid_sessions.adapters.memory.signer import InMemorySigner
from lucid_sessions.adapters.pkcs11 import Pkcs11Signer
from lucid_sessions.domain.errors import SigningKeyRetired
from lucid_sessions.domain.key_set import key_set_document, parse_key_set
from lucid_sessions.domain.ports.signer import Signer
from tests.softhsm import SoftHsmToken

MESSAGES = [b"", b'{"session_id":"s1","merkle_root":"ab12"}', bytes(range(256)) * 64]
SIGNERS = ["memory", "file", "pkcs11"]
NOW = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


@dataclass
class SignerUnderTest:
    """A signer, and how to open another one on the same store (None: it has none)."""

    signer: Signer
    reopen: Callable[[], Signer] | None


def _memory() -> SignerUnderTest:
    return SignerUnderTest(InMemorySigner(), None)


def _file(tmp_path: Path) -> SignerUnderTest:
    def load() -> FileSigner:
        return load_signer(KeySources(), tmp_path, production=False)

    return SignerUnderTest(load(), load)


def _pkcs11(token: SoftHsmToken) -> SignerUnderTest:
    def load(*, create: bool) -> Signer:
        return Pkcs11Signer(token.module, token.token_label, token.pin, create=create)

    return SignerUnderTest(load(create=True), lambda: load(create=False))


@pytest.fixture(params=SIGNERS)
def under_test(request: pytest.FixtureRequest, tmp_path: Path) -> SignerUnderTest:
    if request.param == "memory":
        return _memory()
    if request.param == "file":
        return _file(tmp_path)
    return _pkcs11(request.getfixturevalue("softhsm_token"))


@pytest.fixture
def signer(under_test: SignerUnderTest) -> Signer:
    return under_test.signer


def reopened(under_test: SignerUnderTest) -> Signer:
    if under_test.reopen is None:
        pytest.skip("the in-memory signer has no store a second instance could share")
    return under_test.reopen()


def test_the_current_key_is_32_raw_bytes_named_by_its_blake3_prefix(signer: Signer) -> None:
    key = signer.current()
    assert isinstance(key.public_key, bytes)
    assert len(key.public_key) == 32
    assert key.key_id == blake3(key.public_key).hexdigest()[:16]
    assert key.status == "current"
    assert key.retired_at is None
    assert signer.key_set() == [key]


@pytest.mark.parametrize("message", MESSAGES, ids=["empty", "manifest", "16k"])
def test_signatures_verify_with_verify_signature(signer: Signer, message: bytes) -> None:
    key = signer.current()
    signature = signer.sign(key.key_id, message)
    assert len(signature) == 64
    assert verify_signature(key.public_key, message, signature)


def test_a_changed_message_or_signature_fails(signer: Signer) -> None:
    key = signer.current()
    message = MESSAGES[1]
    signature = signer.sign(key.key_id, message)
    assert not verify_signature(key.public_key, message + b" ", signature)
    assert not verify_signature(key.public_key, b"x" + message[1:], signature)
    for index in (0, 31, 32, 63):
        flipped = bytearray(signature)
        flipped[index] ^= 0x01
        assert not verify_signature(key.public_key, message, bytes(flipped))
    assert not verify_signature(key.public_key, message, signature[:-1])
    other = Ed25519Signer.generate().public_key()
    assert not verify_signature(other, message, signature)


def test_ed25519_signatures_are_deterministic(signer: Signer) -> None:
    key_id = signer.current().key_id
    for message in MESSAGES:
        assert signer.sign(key_id, message) == signer.sign(key_id, message)
    assert signer.sign(key_id, MESSAGES[0]) != signer.sign(key_id, MESSAGES[1])


def test_an_unknown_key_id_does_not_sign(signer: Signer) -> None:
    with pytest.raises(SigningKeyRetired) as caught:
        signer.sign("0123456789abcdef", MESSAGES[1])
    assert caught.value.key_id == "0123456789abcdef"


def test_rotation_retires_the_current_key_and_old_signatures_still_verify(
    signer: Signer,
) -> None:
    old = signer.current()
    old_signature = signer.sign(old.key_id, MESSAGES[1])
    new = signer.rotate(NOW)
    assert new.key_id != old.key_id
    assert new.public_key != old.public_key
    assert new.key_id == blake3(new.public_key).hexdigest()[:16]
    assert new.created_at == NOW
    assert new.status == "current"
    assert signer.current() == new
    keys = signer.key_set()
    assert [key.key_id for key in keys] == [old.key_id, new.key_id]  # oldest first
    assert [key.status for key in keys] == ["retired", "current"]
    assert keys[0].retired_at == NOW
    assert keys[0].public_key == old.public_key
    assert keys[0].created_at == old.created_at
    assert verify_signature(keys[0].public_key, MESSAGES[1], old_signature)
    with pytest.raises(SigningKeyRetired):
        signer.sign(old.key_id, MESSAGES[1])
    signature = signer.sign(new.key_id, MESSAGES[1])
    assert verify_signature(new.public_key, MESSAGES[1], signature)
    assert not verify_signature(old.public_key, MESSAGES[1], signature)


def test_every_rotation_adds_one_key_and_exactly_one_is_current(signer: Signer) -> None:
    first = signer.current()
    second = signer.rotate(NOW)
    third = signer.rotate(LATER)
    keys = signer.key_set()
    assert [key.key_id for key in keys] == [first.key_id, second.key_id, third.key_id]
    assert [key.retired_at for key in keys] == [NOW, LATER, None]
    assert sum(key.status == "current" for key in keys) == 1
    assert keys[-1] == signer.current() == third
    for retired in (first, second):
        with pytest.raises(SigningKeyRetired):
            signer.sign(retired.key_id, MESSAGES[0])
    # The key set is a valid published document, and reads back the same.
    assert parse_key_set(key_set_document(keys)) == keys


def test_two_instances_on_one_store_agree_and_see_each_others_rotation(
    under_test: SignerUnderTest,
) -> None:
    first = under_test.signer
    second = reopened(under_test)
    assert second.current() == first.current()
    assert second.key_set() == first.key_set()
    old = second.current()
    assert second.sign(old.key_id, MESSAGES[1]) == first.sign(old.key_id, MESSAGES[1])
    new = first.rotate(NOW)
    assert second.current() == new  # no restart: the other instance sees the store change
    assert second.key_set() == first.key_set()
    with pytest.raises(SigningKeyRetired):
        second.sign(old.key_id, MESSAGES[1])
    assert verify_signature(new.public_key, MESSAGES[1], second.sign(new.key_id, MESSAGES[1]))
    newest = second.rotate(LATER)
    assert first.current() == newest
    with pytest.raises(SigningKeyRetired):
        first.sign(new.key_id, MESSAGES[1])


def test_the_key_set_survives_reopening(under_test: SignerUnderTest) -> None:
    signer = under_test.signer
    signer.rotate(NOW)
    keys = signer.key_set()
    again = reopened(under_test)
    assert again.key_set() == keys
    assert again.current() == keys[-1]
    message = MESSAGES[1]
    assert verify_signature(keys[-1].public_key, message, again.sign(keys[-1].key_id, message))
