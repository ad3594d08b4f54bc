"""The one table that turns errors into HTTP answers, and the OpenAPI error lists made from it.

Domain errors map to a status in `DOMAIN_ERRORS` (most specific first; the first matching row
wins). Errors only HTTP knows (413, 415, 416) are `HTTPException`s raised by the adapter. A route
declares which errors it can raise with `documented(...)`, which turns the table's statuses into
the `raises=` list Litestar documents, so the OpenAPI document cannot drift from the table.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    InternalServerException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ServiceUnavailableException,
    ValidationException,
)

from lucid_sessions.domain.errors import (
    ConcurrencyError,
    DomainError,
    Forbidden,
    IntegrityError,
    InvalidTransition,
    InvalidValue,
    NotFound,
    PipelinePaused,
    PolicyViolation,
    RangeNotSatisfiable,
    StorageFull,
    StorageUnavailable,
    Unauthenticated,
)

__all__ = [
    "DOMAIN_ERRORS",
    "PayloadTooLargeException",
    "RangeNotSatisfiableException",
    "RequestTimeoutException",
    "UnsupportedMediaTypeException",
    "documented",
    "exception_handlers",
    "log_unhandled",
    "status_for",
]

_log = logging.getLogger("lucid_sessions.errors")

BEARER_CHALLENGE = 'Bearer realm="lucid-sessions"'
"""What a 401 answers in `WWW-Authenticate` (RFC 6750)."""

# Most specific first; the first matching row wins.
DOMAIN_ERRORS: tuple[tuple[type[DomainError], int], ...] = (
    (InvalidValue, 400),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (InvalidTransition, 409),
    (PolicyViolation, 409),
    (ConcurrencyError, 409),
    (RangeNotSatisfiable, 416),
    (PipelinePaused, 503),
    (StorageUnavailable, 503),
    (StorageFull, 507),
    (IntegrityError, 500),
)


class InsufficientStorageException(HTTPException):
    status_code = 507
    detail = "insufficient storage"


class ConflictException(HTTPException):
    status_code = 409
    detail = "conflict with the current state"


class RequestTimeoutException(HTTPException):
    status_code = 408
    detail = "the request body did not arrive in time"


class PayloadTooLargeException(HTTPException):
    status_code = 413
    detail = "request body too large"


class UnsupportedMediaTypeException(HTTPException):
    status_code = 415
    detail = "unsupported content type"


class RangeNotSatisfiableException(HTTPException):
    status_code = 416
    detail = "range not satisfiable"


# The exception Litestar documents for each status of the table.
_DOCUMENTED_AS: dict[int, type[HTTPException]] = {
    400: ValidationException,
    401: NotAuthorizedException,
    403: PermissionDeniedException,
    404: NotFoundException,
    409: ConflictException,
    416: RangeNotSatisfiableException,
    500: InternalServerException,
    503: ServiceUnavailableException,
    507: InsufficientStorageException,
}


def _status_of(kind: type[DomainError]) -> int:
    """The status of the table's first row that `kind` is (or inherits from); 500 if none."""
    for row, status in DOMAIN_ERRORS:
        if issubclass(kind, row):
            return status
    return 500


def status_for(exc: DomainError) -> int:
    return _status_of(type(exc))


def documented(*errors: type[DomainError] | type[HTTPException]) -> list[type[HTTPException]]:
    """The `raises=` list of a route that can raise these domain errors (by the table) and
    these HTTP-only errors, one entry per status."""
    found: dict[int, type[HTTPException]] = {}
    for error in errors:
        if issubclass(error, HTTPException):
            found[error.status_code] = error
        else:
            status = _status_of(error)
            found[status] = _DOCUMENTED_AS[status]
    return [found[status] for status in sorted(found)]


def _body(status: int, detail: str, extra: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"status_code": status, "detail": detail}
    if extra is not None:
        body["extra"] = extra
    return body


def _domain_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, DomainError)
    status = status_for(exc)
    headers: dict[str, str] = {}
    extra: Any = None
    if isinstance(exc, InvalidValue):
        extra = [{"key": exc.field, "message": exc.message}]
    if isinstance(exc, PipelinePaused | StorageUnavailable):
        headers["Retry-After"] = str(exc.retry_after_seconds)
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = BEARER_CHALLENGE
    if status >= 500:
        _log.error("request_failed", extra={"error": type(exc).__name__, "detail": exc.detail})
    return Response(_body(status, exc.detail, extra), status_code=status, headers=headers)


_BODY_FIELDS_WITH_DATA = ("metadata",)


def _repair_keys(extra: Any) -> Any:
    """Litestar strips every "data." from error keys, so "metadata.tags" arrives as "metatags";
    put the field name back (the only body field whose name ends in "data" is "metadata")."""
    if not isinstance(extra, list):
        return extra
    for item in extra:
        key = item.get("key") if isinstance(item, dict) else None
        if isinstance(key, str) and item.get("source") == "body":
            for name in _BODY_FIELDS_WITH_DATA:
                stem = name.removesuffix("data")
                if key.startswith(stem) and not key.startswith(name):
                    item["key"] = f"{name}.{key.removeprefix(stem)}"
    return extra


def _other_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, HTTPException):
        return Response(
            _body(exc.status_code, exc.detail, _repair_keys(exc.extra) or None),
            status_code=exc.status_code,
            headers=exc.headers or {},
        )
    log_unhandled(exc, request.scope)
    return Response(_body(500, "Internal Server Error"), status_code=500)


def log_unhandled(exc: BaseException, scope: Any) -> None:
    """The last resort's one line: the error's type and the route template (the request id
    comes with the log context), never a traceback, a message or a path, which could carry
    install paths or what the client sent."""
    route = scope.get("path_template")
    _log.error(
        "unhandled_error",
        extra={"error": type(exc).__name__, "route": route if isinstance(route, str) else None},
    )


def exception_handlers() -> dict[type[Exception] | int, Any]:
    return {DomainError: _domain_error, Exception: _other_error}
