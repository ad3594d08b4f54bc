"""Contract of the `Cipher` port, run against every AEAD adapter."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lucid_sessions.adapters.crypto.cipher import (
    AesGcmCipher,
    ChaCha20Poly1305Cipher,
    cipher_by_name,
    cpu_has_aes,
    default_cipher_name,
)
from lucid_sessions.domain.errors import IntegrityError, InvalidValue
from lucid_sessions.domain.ports.cipher import Cipher

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


X86_CPUINFO = "processor\t: 0\nflags\t\t: fpu vme sse2 aes avx2\n"
X86_NO_AES = "processor\t: 0\nflags\t\t: fpu vme sse2 avx2\n"
PI4_CPUINFO = "processor\t: 0\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU part\t: 0xd08\n"
ARM64_AES = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n"


@pytest.mark.parametrize(
    ("content", "has_aes", "expected"),
    [
        (X86_CPUINFO, True, "aes-256-gcm"),
        (X86_NO_AES, False, "chacha20-poly1305"),
        (PI4_CPUINFO, False, "chacha20-poly1305"),
        (ARM64_AES, True, "aes-256-gcm"),
        ("model name\t: aes-like CPU\n", False, "chacha20-poly1305"),
    ],
)
def test_default_cipher_follows_the_cpu(
    tmp_path: Path, content: str, has_aes: bool, expected: str
) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(content)
    assert cpu_has_aes(cpuinfo) is has_aes
    assert default_cipher_name(cpuinfo) == expected


def test_unreadable_cpuinfo_means_no_aes(tmp_path: Path) -> None:
    assert cpu_has_aes(tmp_path / "missing") is False
    assert default_cipher_name(tmp_path / "missing") == "chacha20-poly1305"
