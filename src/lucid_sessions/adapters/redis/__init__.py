"""Redis adapter: the SessionCache port (entry point: `open_redis_cache`)."""

from lucid_sessions.adapters.redis.cache import DEFAULT_NAMESPACE, RedisSessionCache
from lucid_sessions.adapters.redis.resource import open_redis_cache

__all__ = ["DEFAULT_NAMESPACE", "RedisSessionCache", "open_redis_cache"]
