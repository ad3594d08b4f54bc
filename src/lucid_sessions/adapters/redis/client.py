"""open_redis_cache: the life cycle of the Redis client behind RedisSessionCache."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from lucid_sessions.adapters.redis.session_cache import DEFAULT_NAMESPACE, RedisSessionCache

__all__ = ["open_redis_cache"]


@asynccontextmanager
async def open_redis_cache(
    url: str,
    ttl_seconds: float = 300.0,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    timeout_seconds: float = 0.5,
    retry_interval: float = 1.0,
) -> AsyncIterator[RedisSessionCache]:
    """Yield a RedisSessionCache over a client for `url`; close the client on exit.

    Entry point for REDIS_URL (opened by `bootstrap.stores` when REDIS_URL is set):
    `CachedSessionRepository(repository, cache)` for sessions and `cache.ping` for the
    `cache` check of /health. Never touches the network here: a Redis that is down at start-up
    is an outage like any other (reads miss, /health says degraded) and is used once it
    answers. Timeouts are short (`timeout_seconds` to connect and per command) and a timeout
    is never retried, so a down or slow Redis costs a request at most that long. A connection
    error is retried once, at once, on a new connection: after a restart of Redis the pooled
    connections are closed ones, and the first use of each must not be taken for an outage (a
    replica that did stopped updating the shared cache while the others read its entries).
    """
    client: Redis = Redis.from_url(
        url,
        socket_connect_timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        retry_on_timeout=False,
    )
    try:
        yield RedisSessionCache(
            client,
            ttl_seconds=ttl_seconds,
            namespace=namespace,
            retry_interval=retry_interval,
        )
    finally:
        await client.aclose()
