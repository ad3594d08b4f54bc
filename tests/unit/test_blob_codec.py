"""The blob header codec and `BlobCodec`, on the real compressor, ciphers and key ring."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lucid_sessions.adapters.crypto.keyring import StaticKeyRing
from lucid_sessions.adapters.zstd_lz4.compressor import ZstdLz4Compressor
from lucid_sessions.app.blob_codec import BlobCodec
from lucid_sessions.domain.blob import (
    MAX_HEADER_SIZE,
    BlobHeader,
    aad_for,
    authenticated_header_bytes,
    decode_header,
    encode_header,
)
from lucid_sessions.domain.errors import CorruptChunk, IntegrityError, InvalidValue
from lucid_sessions.domain.ports.cipher import CipherName
from lucid_sessions.domain.ports.compressor import Algorithm
from lucid_sessions.domain.ports.keyring import WrappedKey
from tests.ciphers import cipher_by_name

ALGORITHMS: tuple[Algorithm, ...] = get_args(Algorithm)
CIPHERS: tuple[CipherName | None, ...] = (*get_args(CipherName), None)
CHUNK = b"frame 0001 mouse 12,40 key A; " * 300
SESSION = "7d9f0c3e-5a61-4b8e-9a0f-0123456789ab"

RING = StaticKeyRing({"k1": os.urandom(32)}, "k1")
CODEC = BlobCodec(
    ZstdLz4Compressor(),
    {name: cipher_by_name(name) for name in get_args(CipherName)},
    RING,
)
_, DATA_KEY = RING.new_data_key()


def seal(
    data: bytes = CHUNK,
    *,
    compression: Algorithm = "zstd",
    cipher: CipherName | None = "aes-256-gcm",
    session_id: str = SESSION,
    sequence_number: int = 7,
) -> bytes:
    sealed = CODEC.seal(
        session_id=session_id,
        sequence_number=sequence_number,
        data=data,
        compression=compression,
        level=None,
        cipher=cipher,
        data_key=DATA_KEY if cipher else None,
    )
    return sealed.data


def open_blob(blob: bytes, *, session_id: str = SESSION, sequence_number: int = 7) -> bytes:
    return CODEC.open(
        session_id=session_id, sequence_number=sequence_number, blob=blob, data_key=DATA_KEY
    )


# -- header codec ---------------------------------------------------------------------------

HEADER = BlobHeader(
    compression="lz4",
    cipher="chacha20-poly1305",
    key_id="k12",
    nonce=bytes(range(12)),
    original_size=2**40,
    payload_size=17,
)


def test_header_round_trips_and_reports_its_length() -> None:
    encoded = encode_header(HEADER)
    assert encoded.startswith(b"LSB1\x01\x02\x02\x03\x0c")
    assert len(encoded) == 25 + 3 + 12 <= MAX_HEADER_SIZE
    assert decode_header(encoded + b"payload") == (HEADER, len(encoded))


def test_unencrypted_header_round_trips() -> None:
    header = BlobHeader(
        compression="none", cipher=None, key_id="", nonce=b"", original_size=0, payload_size=0
    )
    assert decode_header(encode_header(header)) == (header, 25)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda b: b"LSB2" + b[4:], "bad blob magic"),
        (lambda b: b[:4] + b"\x02" + b[5:], "unsupported blob format version 2"),
        (lambda b: b[:5] + b"\x09" + b[6:], "unknown compression code 9"),
        (lambda b: b[:6] + b"\x07" + b[7:], "unknown cipher code 7"),
        (lambda b: b[:7] + b"\xff" + b[8:], "key id length 255 exceeds 64"),
        (lambda b: b[:8] + b"\x21" + b[9:], "nonce length 33 exceeds 32"),
        (lambda b: b[:6] + b"\x00" + b[7:], "invalid blob header"),  # no cipher, yet a key id
        (lambda b: b[:8] + b"\x00" + b[9:], "invalid blob header"),  # cipher, yet no nonce
        (lambda b: b[:24], "blob header truncated"),
        (lambda b: b[:-1], "blob header truncated"),
        (lambda b: b"", "blob header truncated"),
        (lambda b: b[:25] + b"\xff" + b[26:], "key id is not ASCII"),
    ],
)
def test_header_decode_errors_say_what_is_wrong(edit: object, reason: str) -> None:
    broken = edit(encode_header(HEADER))  # type: ignore[operator]
    with pytest.raises(IntegrityError, match=reason):
        decode_header(broken)


@pytest.mark.parametrize(
    "changes",
    [
        {"key_id": ""},
        {"nonce": b""},
        {"cipher": None},
        {"key_id": "k" * 65},
        {"key_id": "k\n1"},
        {"original_size": -1},
        {"payload_size": 2**64},
        {"format_version": 2},
        {"compression": "gzip"},
    ],
)
def test_header_refuses_inconsistent_fields(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidValue):
        replace(HEADER, **changes)  # type: ignore[arg-type]


def test_authenticated_header_zeroes_only_nonce_and_payload_size() -> None:
    resealed = replace(HEADER, nonce=os.urandom(12), payload_size=99)
    assert authenticated_header_bytes(resealed) == authenticated_header_bytes(HEADER)
    for other in (replace(HEADER, key_id="k13"), replace(HEADER, original_size=1)):
        assert authenticated_header_bytes(other) != authenticated_header_bytes(HEADER)


def test_aad_is_unambiguous() -> None:
    header = encode_header(HEADER)
    assert aad_for("ab", 1, header) != aad_for("a", 1, b"b" + header)
    assert aad_for("s", 1, header) != aad_for("s", 2, header)
    assert aad_for("s", 1, header) != aad_for("t", 1, header)
    with pytest.raises(InvalidValue):
        aad_for("s", -1, header)


# -- BlobCodec ----------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ALGORITHMS)
@pytest.mark.parametrize("cipher", CIPHERS)
def test_round_trip(compression: Algorithm, cipher: CipherName | None) -> None:
    sealed = CODEC.seal(
        session_id=SESSION,
        sequence_number=3,
        data=CHUNK,
        compression=compression,
        level=None,
        cipher=cipher,
        data_key=DATA_KEY if cipher else None,
    )
    assert sealed.compression == sealed.header.compression == compression
    assert sealed.cipher == sealed.header.cipher == cipher
    assert sealed.encrypted is (cipher is not None)
    assert sealed.header.original_size == len(CHUNK)
    if compression == "none":
        assert sealed.compression_ratio == 1.0
    else:
        assert sealed.compression_ratio > 10
    if cipher:
        assert sealed.header.key_id == "k1"
        assert CHUNK[:64] not in sealed.data
    assert open_blob(sealed.data, sequence_number=3) == CHUNK


@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize("data", [b"", b"x", os.urandom(64 << 10)], ids=["empty", "1", "random"])
def test_incompressible_data_is_stored_uncompressed(cipher: CipherName | None, data: bytes) -> None:
    sealed = CODEC.seal(
        session_id=SESSION,
        sequence_number=0,
        data=data,
        compression="zstd",
        level=19,
        cipher=cipher,
        data_key=DATA_KEY,
    )
    assert sealed.compression == "none"
    assert sealed.compression_ratio == 1.0
    expected_payload = len(data) + (16 if cipher else 0)
    assert sealed.header.payload_size == expected_payload
    assert open_blob(sealed.data, sequence_number=0) == data


def test_each_seal_uses_a_fresh_nonce() -> None:
    assert seal() != seal()


@pytest.mark.parametrize("compression", ALGORITHMS)
@pytest.mark.parametrize("cipher", get_args(CipherName))
@settings(max_examples=40, deadline=None)
@given(position=st.integers(min_value=0), mask=st.integers(min_value=1, max_value=255))
def test_any_flipped_byte_is_detected(
    compression: Algorithm, cipher: CipherName, position: int, mask: int
) -> None:
    blob = bytearray(seal(CHUNK[:700], compression=compression, cipher=cipher))
    blob[position % len(blob)] ^= mask
    with pytest.raises(CorruptChunk):
        open_blob(bytes(blob))


def test_every_single_byte_of_a_small_blob_is_covered() -> None:
    blob = seal(b"tiny chunk", compression="none", cipher="chacha20-poly1305")
    for position in range(len(blob)):
        for mask in (0x01, 0x80):
            broken = bytearray(blob)
            broken[position] ^= mask
            with pytest.raises(CorruptChunk):
                open_blob(bytes(broken))


@pytest.mark.parametrize("cipher", CIPHERS)
def test_truncated_or_extended_blob_is_corrupt(cipher: CipherName | None) -> None:
    blob = seal(cipher=cipher)
    for broken in (blob[:-1], blob[:30], blob[:5], b"", blob + b"\x00"):
        with pytest.raises(CorruptChunk):
            open_blob(broken)


@pytest.mark.parametrize("cipher", get_args(CipherName))
def test_blob_moved_to_another_position_or_session_fails(cipher: CipherName) -> None:
    blob = seal(cipher=cipher, session_id=SESSION, sequence_number=7)
    with pytest.raises(CorruptChunk) as caught:
        open_blob(blob, sequence_number=8)
    assert caught.value.sequence_number == 8
    assert caught.value.session_id == SESSION
    with pytest.raises(CorruptChunk):
        open_blob(blob, session_id=SESSION.replace("7", "8"))
    assert open_blob(blob) == CHUNK


def test_blob_sealed_under_another_data_key_fails() -> None:
    blob = seal()
    _, other_key = RING.new_data_key()
    with pytest.raises(CorruptChunk, match="authentication failed"):
        CODEC.open(session_id=SESSION, sequence_number=7, blob=blob, data_key=other_key)


def test_header_swapped_from_another_blob_fails() -> None:
    first, second = seal(compression="none"), seal(compression="none")
    _, length = decode_header(first)
    with pytest.raises(CorruptChunk):
        open_blob(first[:length] + second[length:])


def test_corrupt_chunk_names_the_chunk_and_reason() -> None:
    with pytest.raises(CorruptChunk) as caught:
        open_blob(b"XXXX" + seal()[4:])
    assert "chunk 7 of session" in str(caught.value)
    assert "bad blob magic" in caught.value.reason


def test_encrypted_blob_without_data_key_is_corrupt() -> None:
    with pytest.raises(CorruptChunk, match="no data key"):
        CODEC.open(session_id=SESSION, sequence_number=7, blob=seal(), data_key=None)


def test_unknown_master_key_is_corrupt() -> None:
    stranger = WrappedKey(key_id="k9", wrapped=DATA_KEY.wrapped)
    with pytest.raises(CorruptChunk, match="unknown master key"):
        CODEC.open(session_id=SESSION, sequence_number=7, blob=seal(), data_key=stranger)


def test_unencrypted_blob_opens_without_a_key_and_checks_sizes() -> None:
    blob = seal(cipher=None)
    assert CODEC.open(session_id=SESSION, sequence_number=99, blob=blob, data_key=None) == CHUNK
    header, length = decode_header(blob)
    lying = encode_header(replace(header, original_size=header.original_size + 1)) + blob[length:]
    with pytest.raises(CorruptChunk, match="zstd"):
        open_blob(lying)


def test_oversized_original_size_is_refused_before_decompressing() -> None:
    small = BlobCodec(ZstdLz4Compressor(), {}, RING, max_original_size=1024)
    blob = seal(b"a" * 2048, compression="none", cipher=None)
    with pytest.raises(CorruptChunk, match="exceeds"):
        small.open(session_id=SESSION, sequence_number=7, blob=blob, data_key=None)
    with pytest.raises(InvalidValue):
        small.seal(
            session_id=SESSION,
            sequence_number=7,
            data=b"a" * 2048,
            compression="none",
            level=None,
            cipher=None,
            data_key=None,
        )


def test_seal_refuses_bad_requests() -> None:
    base = {
        "session_id": SESSION,
        "sequence_number": 0,
        "data": CHUNK,
        "compression": "zstd",
        "level": None,
    }
    with pytest.raises(InvalidValue, match="data_key"):
        CODEC.seal(**base, cipher="aes-256-gcm", data_key=None)  # type: ignore[arg-type]
    only_aes = BlobCodec(ZstdLz4Compressor(), {"aes-256-gcm": cipher_by_name("aes-256-gcm")}, RING)
    with pytest.raises(InvalidValue, match="not configured"):
        only_aes.seal(**base, cipher="chacha20-poly1305", data_key=DATA_KEY)  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="compression_level"):
        CODEC.seal(**{**base, "level": 99}, cipher=None, data_key=None)  # type: ignore[arg-type]
