"""In-memory fakes of every port: they behave (and fail) exactly like the real adapters."""

from lucid_sessions.adapters.memory.chunks import (
    InMemoryBlobStore,
    InMemoryChunkIndex,
    InMemoryDataKeyStore,
    InMemoryPipelineStats,
)
from lucid_sessions.adapters.memory.sessions import InMemorySessionRepository
from lucid_sessions.adapters.memory.system import FrozenClock, SequentialIdGenerator

__all__ = [
    "FrozenClock",
    "InMemoryBlobStore",
    "InMemoryChunkIndex",
    "InMemoryDataKeyStore",
    "InMemoryPipelineStats",
    "InMemorySessionRepository",
    "SequentialIdGenerator",
]
