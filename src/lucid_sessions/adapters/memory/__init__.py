"""In-memory fakes for the tests and benchmarks: the session repository and cache, the chunk
index, the blob store, data keys, pipeline figures, the session log, a health probe that is up
or down as told, a frozen clock, sequential ids and recording telemetry. Each runs the contract
suite of its port (tests/contract) beside the real adapters. The other ports (ciphers, the
compressor, the key ring, leases) have no fake here; the signer's fake holds Ed25519 keys in
memory."""

from lucid_sessions.adapters.memory.blob_store import InMemoryBlobStore
from lucid_sessions.adapters.memory.chunk_index import InMemoryChunkIndex
from lucid_sessions.adapters.memory.clock import FrozenClock
from lucid_sessions.adapters.memory.data_key_store import InMemoryDataKeyStore
from lucid_sessions.adapters.memory.health_probe import InMemoryHealthProbe
from lucid_sessions.adapters.memory.id_generator import SequentialIdGenerator
from lucid_sessions.adapters.memory.pipeline_stats import InMemoryPipelineStats
from lucid_sessions.adapters.memory.session_cache import InMemorySessionCache
from lucid_sessions.adapters.memory.session_log import InMemorySessionLog
from lucid_sessions.adapters.memory.session_repository import InMemorySessionRepository
from lucid_sessions.adapters.memory.signer import InMemorySigner
from lucid_sessions.adapters.memory.telemetry import RecordingTelemetry

__all__ = [
    "FrozenClock",
    "InMemoryBlobStore",
    "InMemoryChunkIndex",
    "InMemoryDataKeyStore",
    "InMemoryHealthProbe",
    "InMemoryPipelineStats",
    "InMemorySessionCache",
    "InMemorySessionLog",
    "InMemorySessionRepository",
    "InMemorySigner",
    "RecordingTelemetry",
    "SequentialIdGenerator",
]
