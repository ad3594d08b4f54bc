"""JSON request bodies: bounded before they cost memory, decoded once, strictly.

A route that takes a JSON body says so twice: `opt=json_body(Model)` (read here, before the
body is) and `data: JSONBody[Model]` (the OpenAPI document's request body; Litestar passes
what was decoded here); `tests/unit/test_json_bodies.py` checks that the two agree.
`JsonBodyMiddleware` stands in front of such a route: when the route first reads the body
(after authentication), the body must be `application/json` (else 415), at most `max_bytes`
(else 413, refused from `Content-Length` before a byte is read, or as soon as the stream
passes it), arrive within `timeout_seconds` (else 408), be well-formed UTF-8 JSON nested at
most `MAX_DEPTH` levels (else 400), and be the route's model, strictly: a JSON string "22" is
not the integer 22 (400 naming the field; Litestar's own conversion is lax).

The body is decoded once, from bytes straight into the model, strictly. Only a body that
fails is read again, to answer what is wrong with it in a fixed order: not JSON, not UTF-8 or
too deep (400 here); not the model even loosely (Litestar's 400, which also names any bad path
or query parameter); the model only loosely (400 from `strict_body`, in the handler).
`JsonBodyRequest`, the app's request class, hands Litestar what was decoded.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
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

__all__ = [
    "JSON_BODY",
    "MAX_DEPTH",
    "DecodedBody",
    "JsonBodyMiddleware",
    "JsonBodyRequest",
    "decode_body",
    "decode_json",
    "json_body",
    "json_depth",
    "strict_body",
]

T = TypeVar("T")

MAX_DEPTH = 32
JSON_TYPES = ("application/json",)
JSON_BODY = "json_body"
"""`opt` key of a route's JSON body model."""

_PATH = re.compile(r" - at `\$\.?([^`]*)`\Z")
_DECODED = "lucid.json_body"
"""Scope key of the body the middleware decoded (a `DecodedBody`)."""


def json_body(model: type[msgspec.Struct]) -> dict[str, Any]:
    """`opt` of a route whose body is JSON of `model` (taken as `data: JSONBody[model]`)."""
    return {JSON_BODY: model}


@dataclass(frozen=True, slots=True)
class DecodedBody:
    """A JSON body decoded: the model instance; or, when only the strict conversion failed,
    the plain JSON value (Litestar converts it loosely) and why it is not the model."""

    value: Any
    strict_error: msgspec.ValidationError | None = None


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


def _json_model(scope: Scope) -> type[msgspec.Struct] | None:
    handler = scope.get("route_handler")
    return None if handler is None else handler.opt.get(JSON_BODY)


class JsonBodyMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, timeout_seconds: float) -> None:
        self._app, self._max, self._timeout = app, max_bytes, timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        model = _json_model(scope) if scope["type"] == ScopeType.HTTP else None
        if model is None:
            await self._app(scope, receive, send)
            return
        checked = False

        async def checked_receive() -> Any:
            nonlocal checked
            if checked:
                return await receive()
            checked = True
            body = await self._checked_body(scope, receive, model)
            return {"type": "http.request", "body": body, "more_body": False}

        await self._app(scope, checked_receive, send)

    async def _checked_body(
        self, scope: Scope, receive: Receive, model: type[msgspec.Struct]
    ) -> bytes:
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
            scope[_DECODED] = decode_body(body, model)  # type: ignore[literal-required]
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


def decode_body(body: bytes, model: type[msgspec.Struct]) -> DecodedBody:
    """`body` decoded into `model`, strictly, in one pass; a body that is not JSON, not UTF-8
    or nested deeper than `MAX_DEPTH` is a 400 (`decode_json`).

    A body that decodes into `model` nests no deeper than `model` does (the request models
    are closed structures, `MAX_DEPTH` levels at most), so only a failed one is measured."""
    with contextlib.suppress(msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return DecodedBody(msgspec.json.decode(body, type=model, strict=True))
    decoded = decode_json(body)
    try:
        return DecodedBody(msgspec.convert(decoded, type=model, strict=True))
    except msgspec.ValidationError as exc:  # Litestar converts it loosely; `strict_body` answers
        return DecodedBody(decoded, exc)


class JsonBodyRequest(Request[Any, Any, Any]):
    """The app's request class. On a route with a JSON body, `json()` is what
    `JsonBodyMiddleware` decoded, and Litestar 2.25 fills the handler's `data` from `json()`
    (passing a model instance through its loose conversion unchanged): the body is not
    decoded a second time. Elsewhere it is Litestar's `json()`.

    `tests/unit/test_json_bodies.py` fails if Litestar stops filling `data` this way."""

    async def json(self) -> Any:
        await self.body()  # the middleware decodes the body as it is read
        decoded: DecodedBody | None = self.scope.get(_DECODED)  # type: ignore[assignment]
        if decoded is None:
            return await super().json()
        return decoded.value


def strict_body(request: Request[Any, Any, Any], data: T) -> T:
    """The handler's `data`, once the body is known to be of the model strictly: a body that
    is the model only loosely (a JSON string "22" for an integer) is a 400 naming the field.

    Raised in the handler, after Litestar checked every parameter, as before the body was
    decoded once: a bad path parameter is still answered first."""
    decoded: DecodedBody = request.scope[_DECODED]  # type: ignore[literal-required]
    error = decoded.strict_error
    if error is None:
        return data
    text = str(error)
    match = _PATH.search(text)
    key = match.group(1) if match else ""
    message = _PATH.sub("", text)
    raise ValidationException(
        detail=f"Validation failed for {request.method} {request.url.path}",
        extra=[{"message": message, "key": key, "source": "body"}],
    )
