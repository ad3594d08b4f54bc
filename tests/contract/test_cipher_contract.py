"""Contract of the `Cipher` port, run against every AEAD adapter."""

from __future__ import annotations

import os

import pytest

from lucid_sessions.adapters.crypto.cipher import (
    AesGcmCipher,
    ChaCha20Poly1305Cipher,
    default_cipher_name,
    fastest,
    measure_ciphers,
)
from lucid_sessions.domain.errors import IntegrityError, InvalidValue
from lucid_sessions.domain.ports.cipher import Cipher
from tests.ciphers import cipher_by_name

KEY = bytes(range(32))
AAD = b"session s1, chunk 7"
PLAINTEXT = b"recording bytes " * 64


@pytest.fixture(params=["aes-256-gcm", "chacha20-poly1305"])
def cipher(request: pytest.FixtureRequest) -> Cipher:
    return cipher_by_name(request.param)


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def test_round_trip(cipher: Cipher) -> None:
    nonce, sealed = cipher.seal(KEY, PLAINTEXT, AAD)
    assert len(nonce) == cipher.nonce_size
    assert PLAINTEXT not in sealed
    assert cipher.open(KEY, nonce, sealed, AAD) == PLAINTEXT


def test_empty_plaintext_round_trips(cipher: Cipher) -> None:
    nonce, sealed = cipher.seal(KEY, b"", b"")
    assert cipher.open(KEY, nonce, sealed, b"") == b""


def test_every_seal_uses_a_fresh_nonce(cipher: Cipher) -> None:
    sealed = [cipher.seal(KEY, PLAINTEXT, AAD) for _ in range(64)]
    assert len({nonce for nonce, _ in sealed}) == 64
    assert len({ciphertext for _, ciphertext in sealed}) == 64


@pytest.mark.parametrize("index", [0, 100, -1])
def test_tampered_ciphertext_fails(cipher: Cipher, index: int) -> None:
    nonce, sealed = cipher.seal(KEY, PLAINTEXT, AAD)
    with pytest.raises(IntegrityError):
        cipher.open(KEY, nonce, flip(sealed, index % len(sealed)), AAD)


def test_truncated_ciphertext_fails(cipher: Cipher) -> None:
    nonce, sealed = cipher.seal(KEY, PLAINTEXT, AAD)
    for cut in (0, 1, 15, len(sealed) - 1):
        with pytest.raises(IntegrityError):
            cipher.open(KEY, nonce, sealed[:cut], AAD)


def test_tampered_nonce_fails(cipher: Cipher) -> None:
    nonce, sealed = cipher.seal(KEY, PLAINTEXT, AAD)
    with pytest.raises(IntegrityError):
        cipher.open(KEY, flip(nonce, 0), sealed, AAD)
    with pytest.raises(IntegrityError):
        cipher.open(KEY, nonce[:-1], sealed, AAD)


def test_other_aad_fails(cipher: Cipher) -> None:
    nonce, sealed = cipher.seal(KEY, PLAINTEXT, AAD)
    for other in (b"", AAD[:-1], flip(AAD, 3), AAD + b"\x00"):
        with pytest.raises(IntegrityError):
            cipher.open(KEY, nonce, sealed, other)


def test_other_key_fails(cipher: Cipher) -> None:
    nonce, sealed = cipher.seal(KEY, PLAINTEXT, AAD)
    with pytest.raises(IntegrityError):
        cipher.open(os.urandom(32), nonce, sealed, AAD)
    with pytest.raises(IntegrityError):
        cipher.open(KEY[:16], nonce, sealed, AAD)


def test_seal_refuses_a_key_that_is_not_256_bits(cipher: Cipher) -> None:
    with pytest.raises(InvalidValue):
        cipher.seal(KEY[:16], PLAINTEXT, AAD)


def test_ciphers_do_not_open_each_other() -> None:
    nonce, sealed = AesGcmCipher().seal(KEY, PLAINTEXT, AAD)
    with pytest.raises(IntegrityError):
        ChaCha20Poly1305Cipher().open(KEY, nonce, sealed, AAD)


def test_names() -> None:
    assert AesGcmCipher().name == "aes-256-gcm"
    assert ChaCha20Poly1305Cipher().name == "chacha20-poly1305"
    with pytest.raises(InvalidValue, match="unknown cipher"):
        cipher_by_name("des")


def test_auto_picks_the_cipher_that_measures_faster() -> None:
    assert fastest({"aes-256-gcm": 0.002, "chacha20-poly1305": 0.001}) == "chacha20-poly1305"
    assert fastest({"aes-256-gcm": 0.0001, "chacha20-poly1305": 0.001}) == "aes-256-gcm"
    assert fastest({"aes-256-gcm": 0.001, "chacha20-poly1305": 0.001}) == "aes-256-gcm"
    timings = measure_ciphers(sample_bytes=64 * 1024, rounds=2)
    assert set(timings) == {"aes-256-gcm", "chacha20-poly1305"}
    assert all(0 < seconds < 1 for seconds in timings.values())
    assert default_cipher_name() in timings
    assert default_cipher_name() == default_cipher_name(), "measured once per process"
