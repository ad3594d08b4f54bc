"""Strict JSON bodies.

Litestar converts request bodies in lax mode (a JSON string "22" becomes the integer 22). The
contract treats a wrong JSON type as bad input, so bodies are decoded again, strictly, from
the raw bytes Litestar has already read (and cached) for the request.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException

__all__ = ["strict_body"]

T = TypeVar("T")

_PATH = re.compile(r" - at `\$\.?([^`]*)`$")


async def strict_body(request: Request[Any, Any, Any], kind: type[T]) -> T:
    raw = await request.body()
    try:
        return msgspec.json.decode(raw, type=kind, strict=True)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _PATH.search(text)
        key = match.group(1) if match else ""
        message = _PATH.sub("", text)
        raise ValidationException(
            detail=f"Validation failed for {request.method} {request.url.path}",
            extra=[{"message": message, "key": key, "source": "body"}],
        ) from None
    except msgspec.DecodeError as exc:
        raise ValidationException(
            detail=f"Validation failed for {request.method} {request.url.path}",
            extra=[{"message": f"malformed JSON: {exc}", "key": "", "source": "body"}],
        ) from None
