"""S3BlobStore: one object per sealed chunk in an S3-compatible bucket, through obstore.

Keys: `<prefix><session_id>/<sequence:012d>.lsb`, built only from validated ids. obstore (the
Rust `object_store` crate behind a Python API) signs with SigV4, retries idempotent requests
with backoff, and streams: a blob above MULTIPART_THRESHOLD goes up as a multipart upload of
PART_SIZE parts, which the store makes visible only when it completes (obstore aborts the
upload when a part fails), so a reader sees the old object or the new one, never a part.
A put is durable when the store acknowledges it.

Errors: a missing object is ChunkNotFound; anything else the store or the network says
(refused, timed out, forbidden, a bad signature) is StorageUnavailable, which HTTP answers
with 503 and Retry-After.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import anyio
import obstore
from obstore.exceptions import BaseError, NotFoundError
from obstore.store import S3Store

from lucid_sessions.domain.chunk import validate_sequence_number
from lucid_sessions.domain.errors import ChunkNotFound, StorageUnavailable
from lucid_sessions.domain.ports.blob_store import BlobStore
from lucid_sessions.domain.ports.health_probe import HealthProbe
from lucid_sessions.domain.session import validate_id

__all__ = ["MULTIPART_THRESHOLD", "PART_SIZE", "S3BlobStore", "s3_store"]

SUFFIX = ".lsb"
MULTIPART_THRESHOLD = 8 * 1024 * 1024
PART_SIZE = 5 * 1024 * 1024  # the smallest part S3 accepts (but the last)
_PROBE_KEY = ".lucid-health-probe"
PING_SECONDS = 3.0
RETRY_SECONDS = 3.0
_MISSING = (FileNotFoundError, NotFoundError)


def s3_store(
    bucket: str,
    *,
    endpoint: str = "",
    region: str = "us-east-1",
    prefix: str = "",
    addressing: str = "virtual",
    access_key_id: str = "",
    secret_access_key: str = "",
    timeout_seconds: float = 30.0,
) -> S3Store:
    """An obstore S3Store; without keys, obstore takes AWS's usual sources (environment,
    instance or container credentials)."""
    config: dict[str, Any] = {
        "region": region,
        "virtual_hosted_style_request": addressing == "virtual",
    }
    if endpoint:
        config["endpoint"] = endpoint
    if access_key_id:
        config["access_key_id"] = access_key_id
        config["secret_access_key"] = secret_access_key
    client: Mapping[str, Any] = {
        "allow_http": endpoint.startswith("http://"),
        "timeout": f"{timeout_seconds}s",
        "connect_timeout": "5s",
    }
    # A few quick retries of idempotent requests, then StorageUnavailable (503, Retry-After):
    # a request never waits long on a store that is down.
    retry: Mapping[str, Any] = {
        "max_retries": 3,
        "retry_timeout": timedelta(seconds=RETRY_SECONDS),
        "backoff": {
            "init_backoff": timedelta(milliseconds=100),
            "max_backoff": timedelta(seconds=1),
            "base": 2,
        },
    }
    return S3Store(
        bucket,
        prefix=prefix or None,
        config=config,  # type: ignore[arg-type]
        client_options=client,  # type: ignore[arg-type]
        retry_config=retry,  # type: ignore[arg-type]
    )


class S3BlobStore(BlobStore, HealthProbe):
    """Sealed chunk blobs in one bucket (under the store's prefix)."""

    def __init__(self, store: S3Store, *, where: str = "the object store") -> None:
        self._store, self._where = store, where

    @staticmethod
    def key(session_id: str, sequence_number: int) -> str:
        validate_id(session_id)
        validate_sequence_number(sequence_number)
        return f"{session_id}/{sequence_number:012d}{SUFFIX}"

    def _unavailable(self, doing: str, exc: BaseException) -> StorageUnavailable:
        reason = type(exc).__name__.removesuffix("Error") or "error"
        return StorageUnavailable(f"cannot {doing} chunk blobs in {self._where} ({reason})")

    async def put(self, session_id: str, sequence_number: int, blob: bytes) -> None:
        key = self.key(session_id, sequence_number)
        try:
            await obstore.put_async(
                self._store,
                key,
                blob,
                use_multipart=len(blob) > MULTIPART_THRESHOLD,
                chunk_size=PART_SIZE,
                max_concurrency=4,
            )
        except (BaseError, OSError) as exc:
            raise self._unavailable("store", exc) from exc

    async def get(self, session_id: str, sequence_number: int) -> bytes:
        key = self.key(session_id, sequence_number)
        try:
            answer = await obstore.get_async(self._store, key)
            return bytes(await answer.bytes_async())
        except _MISSING as exc:
            raise ChunkNotFound(session_id, sequence_number) from exc
        except (BaseError, OSError) as exc:
            raise self._unavailable("read", exc) from exc

    async def get_range(self, session_id: str, sequence_number: int, start: int, end: int) -> bytes:
        """Bytes [start, end) of a blob: one ranged GET (a blob's header, for example)."""
        key = self.key(session_id, sequence_number)
        try:
            return bytes(await obstore.get_range_async(self._store, key, start=start, end=end))
        except _MISSING as exc:
            raise ChunkNotFound(session_id, sequence_number) from exc
        except (BaseError, OSError) as exc:
            raise self._unavailable("read", exc) from exc

    async def delete_session(self, session_id: str) -> None:
        validate_id(session_id)
        try:
            listed = await obstore.list(self._store, prefix=f"{session_id}/").collect_async()
            keys = [meta["path"] for meta in listed]
            for start in range(0, len(keys), 1000):  # the most one DeleteObjects request takes
                await obstore.delete_async(self._store, keys[start : start + 1000])
        except _MISSING:
            return
        except (BaseError, OSError) as exc:
            raise self._unavailable("delete", exc) from exc

    async def ping(self) -> bool:
        """The bucket exists, answers, and takes these credentials: a listing under a prefix
        nothing uses answers an empty list (a missing bucket, 403, a network error or no
        answer in PING_SECONDS is unhealthy; a HEAD could not tell a missing bucket from a
        missing key)."""
        with anyio.move_on_after(PING_SECONDS):
            try:
                await obstore.list(self._store, prefix=_PROBE_KEY, chunk_size=1).collect_async()
            except (BaseError, OSError):
                return False
            return True
        return False
