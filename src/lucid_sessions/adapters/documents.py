"""The stored shapes of the domain's records, declared once.

A stored session or chunk record *is* the domain dataclass (`Session`, `ChunkRecord`,
`WrappedKey`), encoded and decoded by msgspec: no store copies a field list. Decoding runs the
dataclass's own checks (`__post_init__`), so a stored document that breaks a domain rule is
refused like any other bad input.

Two encodings, one shape:
- JSON (SQLite documents, Redis entries): bytes as base64, instants as RFC 3339 strings.
- native (MongoDB): bytes and instants left as they are (BSON binary and BSON date; instants
  are kept to the millisecond, which a BSON date holds exactly).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import msgspec

__all__ = ["from_json", "from_native", "to_json", "to_native"]

T = TypeVar("T")

_ENCODER = msgspec.json.Encoder()
_NATIVE = (bytes, datetime)


_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def _decoder(kind: type[T]) -> msgspec.json.Decoder[T]:
    decoder = _DECODERS.get(kind)
    if decoder is None:
        decoder = _DECODERS[kind] = msgspec.json.Decoder(kind)
    return decoder


def to_json(record: object) -> bytes:
    return _ENCODER.encode(record)


def from_json(raw: bytes | str, kind: type[T]) -> T:
    """Decode a JSON document; msgspec.DecodeError (a ValueError) when it is malformed."""
    return _decoder(kind).decode(raw)


def to_native(record: object) -> dict[str, Any]:
    document: dict[str, Any] = msgspec.to_builtins(record, builtin_types=_NATIVE)
    return document


def from_native(document: dict[str, Any], kind: type[T]) -> T:
    """Build `kind` from a native document; keys that are not fields (`_id`) are ignored."""
    return msgspec.convert(document, kind, builtin_types=_NATIVE)
