"""MongoDB adapters through Beanie 2 (entry point: `open_mongo`).

The Beanie documents in `documents` declare the collections and their indexes and are private
to this package; every adapter reads and writes the shared stored shapes (`adapters.documents`).
"""

from lucid_sessions.adapters.mongo.chunk_index import MongoChunkIndex
from lucid_sessions.adapters.mongo.client import DEFAULT_DATABASE, MongoStores, open_mongo
from lucid_sessions.adapters.mongo.data_key_store import MongoDataKeyStore
from lucid_sessions.adapters.mongo.health_probe import MongoHealthProbe
from lucid_sessions.adapters.mongo.pipeline_stats import MongoPipelineStats
from lucid_sessions.adapters.mongo.session_log import MongoSessionLog
from lucid_sessions.adapters.mongo.session_repository import MongoSessionRepository

__all__ = [
    "DEFAULT_DATABASE",
    "MongoChunkIndex",
    "MongoDataKeyStore",
    "MongoHealthProbe",
    "MongoPipelineStats",
    "MongoSessionLog",
    "MongoSessionRepository",
    "MongoStores",
    "open_mongo",
]
