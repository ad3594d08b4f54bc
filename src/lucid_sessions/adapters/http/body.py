"""JSON request bodies: bounded before they cost memory, decoded once, then checked strictly.

`JsonBodyMiddleware` stands in front of every route that takes a JSON body (a handler with a
`data` parameter): when the route first reads the body (after authentication), the body must
be `application/json` (else 415), at most `max_bytes` (else 413, refused from
`Content-Length` before a byte is read, or as soon as the stream passes it), arrive within
`timeout_seconds` (else 408), and be well-formed UTF-8 JSON nested at most `MAX_DEPTH` levels
(else 400). It is decoded once, from bytes, and what it decoded to is kept with the request;
only then does the route see it.

Litestar converts bodies in lax mode (a JSON string "22" becomes the integer 22). The contract
treats a wrong JSON type as bad input, so handlers take the body with `strict_body`, which
converts what the middleware decoded, strictly, into the request's model.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import anyio
import msgspec
from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import ClientException, ValidationException
from litestar.types import ASGIApp, Receive, Scope, Send

from lucid_sessions.adapters.http.errors import (
    PayloadTooLargeException,
    RequestTimeoutException,
    UnsupportedMediaTypeException,
)
from lucid_sessions.adapters.http.inputs import decimal, media_type, scope_header

__all__ = ["MAX_DEPTH", "JsonBodyMiddleware", "decode_json", "json_depth", "strict_body"]

T = TypeVar("T")

MAX_DEPTH = 32
JSON_TYPES = ("application/json",)

_PATH = re.compile(r" - at `\$\.?([^`]*)`\Z")
_DECODED = "lucid.json_body"
"""Scope key of the body the middleware decoded."""


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in a decoded JSON value (a scalar is 0)."""
    depth, level = 0, [value]
    while level:
        containers = [item for item in level if isinstance(item, dict | list)]
        if not containers:
            break
        depth += 1
        level = [
            child
            for item in containers
            for child in (item.values() if isinstance(item, dict) else item)
        ]
    return depth


def _content_length(scope: Scope) -> int | None:
    raw = scope_header(scope, b"content-length")
    return None if raw is None else decimal(raw.strip(" \t"), "Content-Length")


def _takes_json(scope: Scope) -> bool:
    handler = scope.get("route_handler")
    return handler is not None and "data" in handler.parsed_fn_signature.parameters


class JsonBodyMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, timeout_seconds: float) -> None:
        self._app, self._max, self._timeout = app, max_bytes, timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not _takes_json(scope):
            await self._app(scope, receive, send)
            return
        checked = False

        async def checked_receive() -> Any:
            nonlocal checked
            if checked:
                return await receive()
            checked = True
            body = await self._checked_body(scope, receive)
            return {"type": "http.request", "body": body, "more_body": False}

        await self._app(scope, checked_receive, send)

    async def _checked_body(self, scope: Scope, receive: Receive) -> bytes:
        media = media_type(scope_header(scope, b"content-type") or "")
        if media not in JSON_TYPES:
            raise UnsupportedMediaTypeException(
                detail=f"the body must be application/json (Content-Type: {media or 'none'})"
            )
        announced = _content_length(scope)
        if announced is not None and announced > self._max:
            raise self._too_large()
        with anyio.move_on_after(self._timeout):
            body = await self._read(receive)
            scope[_DECODED] = decode_json(body)  # type: ignore[literal-required]
            return body
        raise RequestTimeoutException(
            detail=f"the JSON body did not arrive within {self._timeout:g} s of its headers"
        )

    def _too_large(self) -> PayloadTooLargeException:
        return PayloadTooLargeException(detail=f"a JSON body may have at most {self._max} bytes")

    async def _read(self, receive: Receive) -> bytes:
        pieces: list[bytes] = []
        size = 0
        while True:
            message: Any = await receive()
            if message["type"] == "http.disconnect":
                raise ClientException(detail="the client went away before the body was complete")
            piece = message.get("body", b"")
            size += len(piece)
            if size > self._max:
                raise self._too_large()
            pieces.append(piece)
            if not message.get("more_body", False):
                return b"".join(pieces)


def decode_json(body: bytes) -> Any:
    """`body` decoded: well-formed UTF-8 JSON nested at most `MAX_DEPTH` levels, else a 400."""
    try:
        decoded = msgspec.json.decode(body)
        depth = json_depth(decoded)
    except RecursionError:
        depth = MAX_DEPTH + 1
    except UnicodeDecodeError:
        raise ClientException(detail="malformed JSON: the body is not valid UTF-8") from None
    except msgspec.DecodeError as exc:
        raise ClientException(detail=f"malformed JSON: {exc}") from None
    if depth > MAX_DEPTH:
        raise ClientException(detail=f"JSON may nest at most {MAX_DEPTH} levels")
    return decoded


async def strict_body(request: Request[Any, Any, Any], kind: type[T]) -> T:
    """The body the middleware decoded, converted strictly into `kind` (a 400 naming the
    field otherwise)."""
    await request.body()  # the middleware decodes it as it is read
    decoded = request.scope[_DECODED]  # type: ignore[literal-required]
    try:
        return msgspec.convert(decoded, type=kind, strict=True)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _PATH.search(text)
        key = match.group(1) if match else ""
        message = _PATH.sub("", text)
        raise ValidationException(
            detail=f"Validation failed for {request.method} {request.url.path}",
            extra=[{"message": message, "key": key, "source": "body"}],
        ) from None
