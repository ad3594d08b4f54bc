"""The chunk blob header: a small versioned, self-describing prefix of every stored blob.

Layout (all integers big-endian; see docs/blob-format.md)::

    0   4  magic b"LSB1"
    4   1  format version (1)
    5   1  compression code (0 none, 1 zstd, 2 lz4)
    6   1  cipher code (0 none, 1 aes-256-gcm, 2 chacha20-poly1305)
    7   1  key id length K (0..64; 0 when unencrypted)
    8   1  nonce length N (0..32; 0 when unencrypted)
    9   8  original size (bytes of the chunk before compression)
    17  8  payload size (bytes that follow the header)
    25  K  key id (ASCII)
    25+K N nonce

The payload (compressed, then sealed when a cipher is set) follows the header immediately.
Pure: stdlib `struct` only.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import Final

from lucid_sessions.domain.errors import IntegrityError, InvalidValue
from lucid_sessions.domain.ports.cipher import CipherName
from lucid_sessions.domain.ports.compressor import Algorithm

__all__ = [
    "BLOB_MAGIC",
    "FORMAT_VERSION",
    "MAX_HEADER_SIZE",
    "MAX_KEY_ID_SIZE",
    "MAX_NONCE_SIZE",
    "BlobHeader",
    "aad_for",
    "authenticated_header_bytes",
    "decode_header",
    "encode_header",
]

BLOB_MAGIC: Final = b"LSB1"
FORMAT_VERSION: Final = 1
MAX_KEY_ID_SIZE: Final = 64
MAX_NONCE_SIZE: Final = 32

_FIXED: Final = struct.Struct(">4sBBBBBQQ")
MAX_HEADER_SIZE: Final = _FIXED.size + MAX_KEY_ID_SIZE + MAX_NONCE_SIZE
_U64_MAX: Final = 2**64 - 1

_COMPRESSION_CODES: Final[dict[Algorithm, int]] = {"none": 0, "zstd": 1, "lz4": 2}
_CIPHER_CODES: Final[dict[CipherName | None, int]] = {
    None: 0,
    "aes-256-gcm": 1,
    "chacha20-poly1305": 2,
}
_COMPRESSION_BY_CODE: Final = {code: name for name, code in _COMPRESSION_CODES.items()}
_CIPHER_BY_CODE: Final = {code: name for name, code in _CIPHER_CODES.items()}

_AAD_TAG: Final = b"LSB1-AAD"
_U32: Final = struct.Struct(">I")
_U64: Final = struct.Struct(">Q")


@dataclass(frozen=True, slots=True, kw_only=True)
class BlobHeader:
    """What a reader needs to decode the payload; `cipher=None` means stored unencrypted.

    `key_id` names the master key that wrapped the session's data key when the blob was sealed
    (informative: rotation re-wraps data keys, never blobs). It and `nonce` are empty exactly
    when `cipher` is None.
    """

    compression: Algorithm
    cipher: CipherName | None
    key_id: str
    nonce: bytes
    original_size: int
    payload_size: int
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        _check(self.format_version == FORMAT_VERSION, "format_version", "unsupported version")
        _check(self.compression in _COMPRESSION_CODES, "compression", "unknown algorithm")
        _check(self.cipher in _CIPHER_CODES, "cipher", "unknown cipher")
        _check(0 <= self.original_size <= _U64_MAX, "original_size", "out of range")
        _check(0 <= self.payload_size <= _U64_MAX, "payload_size", "out of range")
        _check(_valid_key_id(self.key_id), "key_id", "printable ASCII, at most 64 chars")
        if self.cipher is None:
            _check(not self.key_id and not self.nonce, "cipher", "unencrypted: no key or nonce")
        else:
            _check(bool(self.key_id), "key_id", "required when encrypted")
            _check(0 < len(self.nonce) <= MAX_NONCE_SIZE, "nonce", "must be 1..32 bytes")


def encode_header(header: BlobHeader) -> bytes:
    """The header's bytes, exactly as they prefix the blob."""
    key_id = header.key_id.encode("ascii")
    fixed = _FIXED.pack(
        BLOB_MAGIC,
        header.format_version,
        _COMPRESSION_CODES[header.compression],
        _CIPHER_CODES[header.cipher],
        len(key_id),
        len(header.nonce),
        header.original_size,
        header.payload_size,
    )
    return fixed + key_id + header.nonce


def decode_header(blob_prefix: bytes) -> tuple[BlobHeader, int]:
    """Parse the header at the start of `blob_prefix` (the blob or its first bytes).

    Returns the header and its length in bytes; the payload starts there. Reading
    `MAX_HEADER_SIZE` bytes is always enough. Raises `IntegrityError` naming what is wrong.
    """
    if len(blob_prefix) < _FIXED.size:
        raise IntegrityError(f"blob header truncated: {len(blob_prefix)} bytes")
    magic, version, compression, cipher, key_len, nonce_len, original, payload = _FIXED.unpack_from(
        blob_prefix
    )
    _expect(magic == BLOB_MAGIC, f"bad blob magic {magic!r}")
    _expect(version == FORMAT_VERSION, f"unsupported blob format version {version}")
    _expect(compression in _COMPRESSION_BY_CODE, f"unknown compression code {compression}")
    _expect(cipher in _CIPHER_BY_CODE, f"unknown cipher code {cipher}")
    _expect(key_len <= MAX_KEY_ID_SIZE, f"key id length {key_len} exceeds {MAX_KEY_ID_SIZE}")
    _expect(nonce_len <= MAX_NONCE_SIZE, f"nonce length {nonce_len} exceeds {MAX_NONCE_SIZE}")
    end = _FIXED.size + key_len + nonce_len
    _expect(len(blob_prefix) >= end, f"blob header truncated: {len(blob_prefix)} of {end} bytes")
    key_id = bytes(blob_prefix[_FIXED.size : _FIXED.size + key_len])
    _expect(key_id.isascii(), "key id is not ASCII")
    try:
        header = BlobHeader(
            compression=_COMPRESSION_BY_CODE[compression],
            cipher=_CIPHER_BY_CODE[cipher],
            key_id=key_id.decode("ascii"),
            nonce=bytes(blob_prefix[_FIXED.size + key_len : end]),
            original_size=original,
            payload_size=payload,
            format_version=version,
        )
    except InvalidValue as exc:
        raise IntegrityError(f"invalid blob header: {exc.detail}") from exc
    return header, end


def authenticated_header_bytes(header: BlobHeader) -> bytes:
    """The header as the AEAD's associated data covers it.

    Every field counts except the two that exist only once sealing is done: the nonce bytes
    (zero-filled; their length still counts) and `payload_size` (zero). Neither needs the AAD:
    a changed nonce fails the AEAD tag by itself, and the ciphertext length is authenticated by
    the tag while the reader checks that the blob holds exactly `payload_size` bytes.
    """
    return encode_header(replace(header, nonce=bytes(len(header.nonce)), payload_size=0))


def aad_for(session_id: str, sequence_number: int, header_bytes: bytes) -> bytes:
    """Associated data binding a blob to its session, its position and its header.

    `b"LSB1-AAD" || u32 len(sid) || sid (UTF-8) || u64 sequence_number || u32 len(header)
    || header`: every variable part is length-prefixed, so the encoding is unambiguous.
    """
    try:
        sid = session_id.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidValue("session_id", "must be encodable as UTF-8") from exc
    if not 0 <= sequence_number <= _U64_MAX:
        raise InvalidValue("sequence_number", "must be between 0 and 2**64 - 1")
    return b"".join(
        (
            _AAD_TAG,
            _U32.pack(len(sid)),
            sid,
            _U64.pack(sequence_number),
            _U32.pack(len(header_bytes)),
            header_bytes,
        )
    )


def _valid_key_id(key_id: str) -> bool:
    return key_id.isascii() and key_id.isprintable() and len(key_id) <= MAX_KEY_ID_SIZE


def _check(condition: bool, field: str, message: str) -> None:
    if not condition:
        raise InvalidValue(f"blob_header.{field}", message)


def _expect(condition: bool, reason: str) -> None:
    if not condition:
        raise IntegrityError(reason)
