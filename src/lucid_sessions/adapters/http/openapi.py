"""What the OpenAPI document says about paths and errors (one place for every controller).

The error lists are made by `documented` from the error table in `errors`.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar.openapi.spec import OpenAPIType
from litestar.params import PathParameter, QueryParameter

from lucid_sessions.adapters.http.errors import (
    PayloadTooLargeException,
    RangeNotSatisfiableException,
    RequestTimeoutException,
    UnsupportedMediaTypeException,
    documented,
)
from lucid_sessions.app.usecases.common import MAX_OFFSET
from lucid_sessions.domain.errors import (
    ChunkConflict,
    CorruptChunk,
    Forbidden,
    InvalidTransition,
    InvalidValue,
    NotFound,
    PipelinePaused,
    StorageFull,
    StorageUnavailable,
    Unauthenticated,
)

__all__ = [
    "CHUNK_ID_PATTERN",
    "CREATE_ERRORS",
    "DOWNLOAD_ERRORS",
    "ID_PATTERN",
    "LIST_ERRORS",
    "METRICS_ERRORS",
    "READ_ERRORS",
    "UPDATE_ERRORS",
    "UPLOAD_ERRORS",
    "WRITE_ERRORS",
    "ChunkId",
    "Offset",
    "SessionId",
    "UploadChunkId",
    "integer_query",
]

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
CHUNK_ID_PATTERN = r"^[0-9]{1,12}$"

SessionId = Annotated[str, PathParameter(pattern=ID_PATTERN, description="the session id")]
ChunkId = Annotated[
    str, PathParameter(pattern=CHUNK_ID_PATTERN, description="the chunk's sequence number")
]
UploadChunkId = Annotated[
    str,
    PathParameter(
        description="the chunk's sequence number (errors name it sequence_number)",
        schema_extra={"pattern": CHUNK_ID_PATTERN},
    ),
]
"""The same path parameter as ChunkId, validated by the handler so that errors name the
contract's field, `sequence_number` (all chunk routes share one path template)."""


def integer_query(
    minimum: int,
    maximum: int,
    *,
    default: int | None = None,
    name: str | None = None,
    description: str | None = None,
) -> QueryParameter:
    """A whole-number query parameter, documented as an integer but handed to the handler as
    the text the client sent (`str | None`), which the handler reads with `bounded_int`:
    Litestar's own conversion is lax (`3e0`, `5.0`, `1_0` and `²` would pass)."""
    extra: dict[str, Any] = {
        "one_of": None,
        "type": OpenAPIType.INTEGER,
        "minimum": minimum,
        "maximum": maximum,
    }
    if default is not None:
        extra["default"] = default
    return QueryParameter(name=name, description=description, schema_extra=extra)


Offset = Annotated[str | None, integer_query(0, MAX_OFFSET, default=0)]

READ_ERRORS = documented(Unauthenticated, InvalidValue, NotFound, StorageUnavailable)
"""Reading one session or what belongs to it."""
LIST_ERRORS = documented(Unauthenticated, InvalidValue, StorageUnavailable)
"""Reading collections (filters can be bad; nothing is looked up by id)."""
WRITE_ERRORS = documented(
    Unauthenticated, Forbidden, InvalidValue, NotFound, InvalidTransition, StorageUnavailable
)
"""Changing one session (actions without a body)."""
JSON_BODY_ERRORS = documented(PayloadTooLargeException, UnsupportedMediaTypeException)
"""What reading a JSON body can add (too large, not JSON)."""
CREATE_ERRORS = [*LIST_ERRORS, *documented(Forbidden), *JSON_BODY_ERRORS]
UPDATE_ERRORS = [*WRITE_ERRORS, *JSON_BODY_ERRORS]
UPLOAD_ERRORS = documented(
    Unauthenticated,
    InvalidValue,
    NotFound,
    ChunkConflict,
    PipelinePaused,
    StorageUnavailable,
    StorageFull,
    PayloadTooLargeException,
    RequestTimeoutException,
    UnsupportedMediaTypeException,
)
DOWNLOAD_ERRORS = documented(
    Unauthenticated,
    InvalidValue,
    NotFound,
    StorageUnavailable,
    CorruptChunk,
    RangeNotSatisfiableException,
)
METRICS_ERRORS = documented(Unauthenticated, Forbidden)
