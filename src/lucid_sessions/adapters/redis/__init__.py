"""Redis adapter: the SessionCache port (entry point: `open_redis_cache`)."""

from lucid_sessions.adapters.redis.client import open_redis_cache
from lucid_sessions.adapters.redis.session_cache import DEFAULT_NAMESPACE, RedisSessionCache

__all__ = ["DEFAULT_NAMESPACE", "RedisSessionCache", "open_redis_cache"]
