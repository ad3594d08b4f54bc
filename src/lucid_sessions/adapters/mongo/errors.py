"""Driver errors become domain errors here, in the adapter (never past it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from pymongo.errors import ConnectionFailure, ExecutionTimeout, ProtocolError, WTimeoutError

from lucid_sessions.domain.errors import StorageUnavailable

__all__ = ["UNAVAILABLE", "redact_url", "storage_errors"]

UNAVAILABLE: tuple[type[Exception], ...] = (
    ConnectionFailure,  # AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError, pool waits
    ExecutionTimeout,
    WTimeoutError,
    ProtocolError,
)
"""Errors that mean "MongoDB cannot be reached or did not answer in time": retry later."""


@contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Translate an unreachable or timed-out MongoDB into StorageUnavailable (503)."""
    try:
        yield
    except UNAVAILABLE as exc:
        raise StorageUnavailable(
            f"the database is unavailable ({action}): {type(exc).__name__}"
        ) from exc


def redact_url(url: str) -> str:
    """The URL without its credentials, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid MongoDB URL>"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
