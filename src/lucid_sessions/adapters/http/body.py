"""JSON request bodies: bounded before they cost memory, then decoded strictly.

`JsonBodyMiddleware` stands in front of every route that takes a JSON body (a handler with a
`data` parameter): when the route first reads the body (after authentication), the body must
be `application/json` (else 415), at most `max_bytes` (else 413, refused from
`Content-Length` before a byte is read, or as soon as the stream passes it), well-formed JSON
nested at most `MAX_DEPTH` levels (else 400). Only then does the route see it.

Litestar converts bodies in lax mode (a JSON string "22" becomes the integer 22). The contract
treats a wrong JSON type as bad input, so handlers decode the body again, strictly, with
`strict_body`, from the bytes Litestar has already read for the request.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import ClientException, ValidationException
from litestar.types import ASGIApp, Receive, Scope, Send

from lucid_sessions.adapters.http.errors import (
    PayloadTooLargeException,
    UnsupportedMediaTypeException,
)

__all__ = ["MAX_DEPTH", "JsonBodyMiddleware", "json_depth", "strict_body"]

T = TypeVar("T")

MAX_DEPTH = 32
JSON_TYPES = ("application/json",)

_PATH = re.compile(r" - at `\$\.?([^`]*)`$")


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


def _media_type(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.decode("latin-1").split(";")[0].strip().lower()
    return ""


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


def _takes_json(scope: Scope) -> bool:
    handler = scope.get("route_handler")
    return handler is not None and "data" in handler.parsed_fn_signature.parameters


class JsonBodyMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app, self._max = app, max_bytes

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
        media = _media_type(scope)
        if media not in JSON_TYPES:
            raise UnsupportedMediaTypeException(
                detail=f"the body must be application/json (Content-Type: {media or 'none'})"
            )
        too_large = PayloadTooLargeException(
            detail=f"a JSON body may have at most {self._max} bytes"
        )
        announced = _content_length(scope)
        if announced is not None and announced > self._max:
            raise too_large
        pieces: list[bytes] = []
        size = 0
        while True:
            message: Any = await receive()
            if message["type"] == "http.disconnect":
                raise ClientException(detail="the client went away before the body was complete")
            piece = message.get("body", b"")
            size += len(piece)
            if size > self._max:
                raise too_large
            pieces.append(piece)
            if not message.get("more_body", False):
                break
        body = b"".join(pieces)
        try:
            depth = json_depth(msgspec.json.decode(body))
        except RecursionError:
            depth = MAX_DEPTH + 1
        except msgspec.DecodeError as exc:
            raise ClientException(detail=f"malformed JSON: {exc}") from None
        if depth > MAX_DEPTH:
            raise ClientException(detail=f"JSON may nest at most {MAX_DEPTH} levels")
        return body


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
