"""The one table that turns domain errors into HTTP answers."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException

from lucid_sessions.domain.errors import (
    ConcurrencyError,
    DomainError,
    IntegrityError,
    InvalidTransition,
    InvalidValue,
    NotFound,
    PipelinePaused,
    PolicyViolation,
    StorageUnavailable,
)

__all__ = ["ERROR_TABLE", "domain_error_handler", "exception_handlers", "unexpected_error_handler"]

# Most specific first; the first matching row wins.
ERROR_TABLE: list[tuple[type[DomainError], int]] = [
    (InvalidValue, 400),
    (NotFound, 404),
    (InvalidTransition, 409),
    (PolicyViolation, 409),
    (ConcurrencyError, 409),
    (PipelinePaused, 503),
    (StorageUnavailable, 503),
    (IntegrityError, 500),
]

_log = structlog.get_logger("lucid_sessions.errors")


def status_for(exc: DomainError) -> int:
    for kind, status in ERROR_TABLE:
        if isinstance(exc, kind):
            return status
    return 500


def _body(status: int, detail: str, extra: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"status_code": status, "detail": detail}
    if extra is not None:
        body["extra"] = extra
    return body


def domain_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, DomainError)
    status = status_for(exc)
    headers: dict[str, str] = {}
    extra: Any = None
    if isinstance(exc, InvalidValue):
        extra = [{"key": exc.field, "message": exc.message}]
    if isinstance(exc, PipelinePaused | StorageUnavailable):
        headers["Retry-After"] = str(exc.retry_after_seconds)
    if status >= 500:
        _log.error("request_failed", error=type(exc).__name__, detail=exc.detail)
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


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, HTTPException):
        return Response(
            _body(exc.status_code, exc.detail, _repair_keys(exc.extra) or None),
            status_code=exc.status_code,
            headers=exc.headers or {},
        )
    _log.exception("unhandled_error", error=type(exc).__name__)
    return Response(_body(500, "Internal Server Error"), status_code=500)


def exception_handlers() -> dict[type[Exception] | int, Any]:
    return {DomainError: domain_error_handler, Exception: unexpected_error_handler}
