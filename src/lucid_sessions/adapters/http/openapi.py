"""What the OpenAPI document says about paths and errors (one place for every controller)."""

from __future__ import annotations

from typing import Annotated

from litestar.exceptions import HTTPException, NotFoundException, ServiceUnavailableException
from litestar.params import PathParameter, QueryParameter

from lucid_sessions.app.usecases.common import MAX_OFFSET

__all__ = [
    "CHUNK_ID_PATTERN",
    "DOWNLOAD_ERRORS",
    "ID_PATTERN",
    "READ_ERRORS",
    "UPLOAD_ERRORS",
    "WRITE_ERRORS",
    "ChunkId",
    "Offset",
    "SessionId",
]

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
CHUNK_ID_PATTERN = r"^[0-9]{1,12}$"

SessionId = Annotated[str, PathParameter(pattern=ID_PATTERN, description="the session id")]
ChunkId = Annotated[
    str, PathParameter(pattern=CHUNK_ID_PATTERN, description="the chunk's sequence number")
]
Offset = Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET)]


class ConflictException(HTTPException):
    status_code = 409
    detail = "conflict with the current state"


class PayloadTooLargeException(HTTPException):
    status_code = 413
    detail = "request body too large"


class UnsupportedMediaTypeException(HTTPException):
    status_code = 415
    detail = "unsupported content type"


class RangeNotSatisfiableException(HTTPException):
    status_code = 416
    detail = "range not satisfiable"


READ_ERRORS: list[type[HTTPException]] = [NotFoundException, ServiceUnavailableException]
WRITE_ERRORS: list[type[HTTPException]] = [*READ_ERRORS, ConflictException]
UPLOAD_ERRORS: list[type[HTTPException]] = [
    *WRITE_ERRORS,
    PayloadTooLargeException,
    UnsupportedMediaTypeException,
]
DOWNLOAD_ERRORS: list[type[HTTPException]] = [*READ_ERRORS, RangeNotSatisfiableException]
