"""MongoDB adapters through Beanie 2 (entry point: `open_mongo`).

The Beanie documents in `documents` are private to this package: every adapter maps them to
and from domain objects.
"""

from lucid_sessions.adapters.mongo.chunks import (
    BeanieChunkIndex,
    BeanieDataKeyStore,
    BeaniePipelineStats,
)
from lucid_sessions.adapters.mongo.health import MongoHealthProbe
from lucid_sessions.adapters.mongo.resource import DEFAULT_DATABASE, MongoStores, open_mongo
from lucid_sessions.adapters.mongo.sessions import BeanieSessionRepository

__all__ = [
    "DEFAULT_DATABASE",
    "BeanieChunkIndex",
    "BeanieDataKeyStore",
    "BeaniePipelineStats",
    "BeanieSessionRepository",
    "MongoHealthProbe",
    "MongoStores",
    "open_mongo",
]
