"""The S3 adapter against a hung RADOS Gateway (SIGSTOP: it keeps its socket, so connections
are accepted and requests go unanswered): put, get and ranged get raise StorageUnavailable
within a bound set by the request timeout (LUCID_S3_TIMEOUT_SECONDS, here short) and the
adapter's retry budget; they never hang. The gateway is resumed whatever happens (it is
the session's, shared by every S3 test), and the store works again once it is."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import anyio
import pytest

from lucid_sessions.adapters.s3.blob_store import RETRY_SECONDS, S3BlobStore, s3_store
from lucid_sessions.domain.errors import StorageUnavailable
from tests.servers_s3 import S3Server

pytestmark = pytest.mark.anyio

TIMEOUT_SECONDS = 0.5  # each request's timeout
# The adapter retries an idempotent request while within RETRY_SECONDS of the first; the
# last attempt may start just before that and wait out its timeout. Plus slack.
BOUND_SECONDS = RETRY_SECONDS + TIMEOUT_SECONDS + 3.0


def impatient_store(server: S3Server, bucket: str, timeout_seconds: float) -> S3BlobStore:
    return S3BlobStore(
        s3_store(
            bucket,
            endpoint=server.endpoint,
            region=server.region,
            addressing="path",
            access_key_id=server.access_key,
            secret_access_key=server.secret_key,
            timeout_seconds=timeout_seconds,
        )
    )


@contextmanager
def hung(server: S3Server) -> Iterator[None]:
    """The gateway stopped (SIGSTOP) for the block, and resumed after it, always (and
    answering again before the test goes on)."""
    server.gateway.pause()
    try:
        yield
    finally:
        server.gateway.resume()
        server.wait_until_answering()


async def unavailable_within_bound(call: Callable[[], Awaitable[object]]) -> float:
    """Seconds `call` took to raise StorageUnavailable; fails at BOUND_SECONDS if it hangs."""
    started = time.monotonic()
    with anyio.fail_after(BOUND_SECONDS), pytest.raises(StorageUnavailable):
        await call()
    return time.monotonic() - started


async def test_put_and_get_on_a_hung_gateway_answer_unavailable_within_a_bound(
    s3_server: S3Server,
) -> None:
    store = impatient_store(s3_server, s3_server.make_bucket(), TIMEOUT_SECONDS)
    await store.put("sess-hung", 0, b"stored before the hang")
    took: dict[str, float] = {}

    async def timed(name: str, call: Callable[[], Awaitable[object]]) -> None:
        took[name] = await unavailable_within_bound(call)

    with hung(s3_server):
        async with anyio.create_task_group() as group:  # at once: the bound holds for each
            group.start_soon(timed, "put", lambda: store.put("sess-hung", 1, b"new"))
            group.start_soon(timed, "get", lambda: store.get("sess-hung", 0))
            group.start_soon(timed, "get_range", lambda: store.get_range("sess-hung", 0, 0, 6))
    # Each waited for the gateway (at least one timeout), then gave up within the bound.
    assert all(TIMEOUT_SECONDS <= seconds < BOUND_SECONDS for seconds in took.values()), took

    with anyio.fail_after(BOUND_SECONDS):  # resumed: the store answers again
        assert await store.get("sess-hung", 0) == b"stored before the hang"
        await store.put("sess-hung", 1, b"after the hang")
        assert await store.get("sess-hung", 1) == b"after the hang"
