"""Turns chunk bytes into stored blobs and back: compress, seal, frame with a header.

Sealing: the chunk is compressed (stored with compression "none" when that does not make it
smaller), then, when a cipher is chosen, sealed with the session's data key. The AEAD's
associated data is `aad_for(session_id, sequence_number, authenticated_header_bytes(header))`:
it binds the blob to its session and position and covers every header field; the nonce and the
payload size, which exist only after sealing, are authenticated by the AEAD tag and the length
check instead (see `lucid_sessions.domain.blob`). Opening authenticates before decompressing
and turns every failure into `CorruptChunk`.

Unencrypted blobs carry no tag: they are parsed and bound-checked here, and the caller checks
the chunk's BLAKE3 digest.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final

from lucid_sessions.domain.blob import (
    BlobHeader,
    aad_for,
    authenticated_header_bytes,
    decode_header,
    encode_header,
)
from lucid_sessions.domain.errors import CorruptChunk, IntegrityError, InvalidValue
from lucid_sessions.domain.ports.cipher import Cipher, CipherName
from lucid_sessions.domain.ports.compressor import Algorithm, CompressionStream, Compressor
from lucid_sessions.domain.ports.keyring import KeyRing, WrappedKey

__all__ = ["DEFAULT_MAX_ORIGINAL_SIZE", "BlobCodec", "SealedBlob", "Sealer"]

DEFAULT_MAX_ORIGINAL_SIZE: Final = 1 << 30
"""Largest chunk a blob may hold; bounds what a tampered unencrypted header can make us
allocate."""


@dataclass(frozen=True, slots=True)
class SealedBlob:
    """A blob ready to store, with the facts the chunk's `processing_info` reports.

    `compression_ratio` is original size / compressed payload size (before encryption), 1.0 for
    an empty chunk; `compression` is what was applied, "none" when compressing did not help.
    """

    data: bytes
    header: BlobHeader
    compression: Algorithm
    compression_ratio: float
    encrypted: bool
    cipher: CipherName | None
    compressed_size: int = 0
    compress_seconds: float = 0.0
    encrypt_seconds: float = 0.0


class Sealer:
    """One chunk sealed as it arrives; see `BlobCodec.sealer`. Not thread-safe: one thread
    feeds it, in order."""

    def __init__(
        self,
        codec: BlobCodec,
        session_id: str,
        sequence_number: int,
        size: int,
        compression: Algorithm,
        stream: CompressionStream | None,
        cipher: CipherName | None,
        data_key: WrappedKey | None,
    ) -> None:
        self._codec, self._session_id, self._sequence = codec, session_id, sequence_number
        self._size, self._compression, self._stream = size, compression, stream
        self._cipher, self._data_key = cipher, data_key
        self._parts: list[bytes] = []
        self._compressed = 0
        self._seconds = 0.0

    def update(self, piece: bytes | memoryview) -> None:
        if self._stream is None:
            return
        started = time.perf_counter()
        out = self._stream.compress(piece)
        if out:
            self._parts.append(out)
            self._compressed += len(out)
        self._seconds += time.perf_counter() - started

    def finish(self, data: bytes) -> SealedBlob:
        """The blob of `data`, the whole chunk, whose pieces went to `update` in order."""
        if len(data) != self._size:
            raise InvalidValue("data", f"the chunk has {len(data)} bytes, not {self._size}")
        started = time.perf_counter() - self._seconds  # compression time counts as before
        applied: Algorithm = "none"
        payload = data
        if self._stream is not None:
            self._parts.append(self._stream.flush())
            compressed = b"".join(self._parts)
            self._parts.clear()
            if len(compressed) < len(data):
                applied, payload = self._compression, compressed
        return self._codec._sealed(
            self._session_id,
            self._sequence,
            data,
            applied,
            payload,
            self._cipher,
            self._data_key,
            started,
        )


class BlobCodec:
    """Seals chunks into blobs and opens them again; stateless and thread-safe."""

    def __init__(
        self,
        compressor: Compressor,
        ciphers: Mapping[CipherName, Cipher],
        keyring: KeyRing,
        *,
        max_original_size: int = DEFAULT_MAX_ORIGINAL_SIZE,
    ) -> None:
        self._compressor = compressor
        self._ciphers = dict(ciphers)
        self._keyring = keyring
        self._max_original_size = max_original_size

    def seal(
        self,
        *,
        session_id: str,
        sequence_number: int,
        data: bytes,
        compression: Algorithm,
        level: int | None,
        cipher: CipherName | None,
        data_key: WrappedKey | None,
    ) -> SealedBlob:
        """The blob for chunk `sequence_number` of `session_id`.

        Raises `InvalidValue` for a bad level or algorithm, an unconfigured cipher, a missing
        data key when `cipher` is set, or a chunk larger than `max_original_size`.
        """
        if len(data) > self._max_original_size:
            raise InvalidValue("data", f"chunk exceeds {self._max_original_size} bytes")
        started = time.perf_counter()
        applied, payload = self._compress(data, compression, level)
        return self._sealed(
            session_id, sequence_number, data, applied, payload, cipher, data_key, started
        )

    def sealer(
        self,
        *,
        session_id: str,
        sequence_number: int,
        size: int,
        compression: Algorithm,
        level: int | None,
        cipher: CipherName | None,
        data_key: WrappedKey | None,
    ) -> Sealer:
        """`seal` for a chunk of `size` bytes that arrives in pieces: compression runs as
        they come (`Sealer.update`), the rest when the last is there (`Sealer.finish`). The
        blob is byte for byte the one `seal` would make, but for the AEAD's random nonce."""
        if size > self._max_original_size:
            raise InvalidValue("data", f"chunk exceeds {self._max_original_size} bytes")
        stream = (
            None if compression == "none" else self._compressor.stream(compression, level, size)
        )
        return Sealer(
            self, session_id, sequence_number, size, compression, stream, cipher, data_key
        )

    def _sealed(
        self,
        session_id: str,
        sequence_number: int,
        data: bytes,
        applied: Algorithm,
        payload: bytes,
        cipher: CipherName | None,
        data_key: WrappedKey | None,
        started: float,
    ) -> SealedBlob:
        compressed_at = time.perf_counter()
        header = BlobHeader(
            compression=applied,
            cipher=None,
            key_id="",
            nonce=b"",
            original_size=len(data),
            payload_size=len(payload),
        )
        ratio = len(data) / len(payload) if payload else 1.0
        compressed_size = len(payload)
        if cipher is not None:
            header, payload = self._encrypt(
                session_id, sequence_number, header, payload, cipher, data_key
            )
        return SealedBlob(
            data=encode_header(header) + payload,
            header=header,
            compression=applied,
            compression_ratio=ratio,
            encrypted=cipher is not None,
            cipher=cipher,
            compressed_size=compressed_size,
            compress_seconds=compressed_at - started,
            encrypt_seconds=time.perf_counter() - compressed_at,
        )

    def open(
        self,
        *,
        session_id: str,
        sequence_number: int,
        blob: bytes,
        data_key: WrappedKey | None,
    ) -> bytes:
        """The chunk's original bytes; `CorruptChunk` when the blob fails any check."""
        try:
            return self._open(session_id, sequence_number, blob, data_key)
        except IntegrityError as exc:
            raise CorruptChunk(session_id, sequence_number, exc.detail) from exc

    def _compress(
        self, data: bytes, compression: Algorithm, level: int | None
    ) -> tuple[Algorithm, bytes]:
        if compression == "none":
            return "none", data
        compressed = self._compressor.compress(compression, data, level)
        return (compression, compressed) if len(compressed) < len(data) else ("none", data)

    def _encrypt(
        self,
        session_id: str,
        sequence_number: int,
        header: BlobHeader,
        payload: bytes,
        cipher: CipherName,
        data_key: WrappedKey | None,
    ) -> tuple[BlobHeader, bytes]:
        if data_key is None:
            raise InvalidValue("data_key", "an encrypted blob needs the session's data key")
        aead = self._ciphers.get(cipher)
        if aead is None:
            raise InvalidValue("cipher", f"cipher {cipher!r} is not configured")
        draft = replace(header, cipher=cipher, key_id=data_key.key_id, nonce=bytes(aead.nonce_size))
        aad = aad_for(session_id, sequence_number, authenticated_header_bytes(draft))
        nonce, sealed = aead.seal(self._keyring.unwrap(data_key), payload, aad)
        if len(nonce) != aead.nonce_size:
            raise IntegrityError(f"{cipher} returned a {len(nonce)}-byte nonce")
        return replace(draft, nonce=nonce, payload_size=len(sealed)), sealed

    def _open(
        self, session_id: str, sequence_number: int, blob: bytes, data_key: WrappedKey | None
    ) -> bytes:
        header, offset = decode_header(blob)
        if len(blob) - offset != header.payload_size:
            raise IntegrityError(
                f"blob holds {len(blob) - offset} payload bytes, header says {header.payload_size}"
            )
        if header.original_size > self._max_original_size:
            raise IntegrityError(f"original size {header.original_size} exceeds the maximum")
        payload = blob[offset:]
        if header.cipher is not None:
            aad = aad_for(session_id, sequence_number, authenticated_header_bytes(header))
            payload = self._decrypt(header.cipher, header.nonce, payload, aad, data_key)
        return self._compressor.decompress(header.compression, payload, header.original_size)

    def _decrypt(
        self,
        cipher: CipherName,
        nonce: bytes,
        payload: bytes,
        aad: bytes,
        data_key: WrappedKey | None,
    ) -> bytes:
        if data_key is None:
            raise IntegrityError("the blob is encrypted and no data key was given")
        aead = self._ciphers.get(cipher)
        if aead is None:
            raise IntegrityError(f"cipher {cipher!r} is not configured")
        return aead.open(self._keyring.unwrap(data_key), nonce, payload, aad)
