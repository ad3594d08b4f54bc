"""MongoDB adapters: PyMongo's async driver, Beanie 2 for the schema (entry: `open_mongo`).

Every collection the adapters use, leases included, is a Beanie document in `documents`, private
to this package, with its indexes; `open_mongo` runs `init_beanie`, which creates them. The
adapters make raw PyMongo calls on those documents' collections, and store the shared shapes of
`adapters.documents` (the domain's records) wherever one exists.
"""

from lucid_sessions.adapters.mongo.chunk_index import MongoChunkIndex
from lucid_sessions.adapters.mongo.client import DEFAULT_DATABASE, MongoStores, open_mongo
from lucid_sessions.adapters.mongo.data_key_store import MongoDataKeyStore
from lucid_sessions.adapters.mongo.health_probe import MongoHealthProbe
from lucid_sessions.adapters.mongo.leases import MongoLeases
from lucid_sessions.adapters.mongo.media_index import MongoMediaIndex
from lucid_sessions.adapters.mongo.pipeline_stats import MongoPipelineStats
from lucid_sessions.adapters.mongo.session_log import MongoSessionLog
from lucid_sessions.adapters.mongo.session_repository import MongoSessionRepository

__all__ = [
    "DEFAULT_DATABASE",
    "MongoChunkIndex",
    "MongoDataKeyStore",
    "MongoHealthProbe",
    "MongoLeases",
    "MongoMediaIndex",
    "MongoPipelineStats",
    "MongoSessionLog",
    "MongoSessionRepository",
    "MongoStores",
    "open_mongo",
]
