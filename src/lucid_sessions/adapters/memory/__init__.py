"""In-memory fakes of every port: they behave (and fail) exactly like the real adapters."""

from lucid_sessions.adapters.memory.sessions import InMemorySessionRepository
from lucid_sessions.adapters.memory.system import FrozenClock, SequentialIdGenerator

__all__ = ["FrozenClock", "InMemorySessionRepository", "SequentialIdGenerator"]
