"""The MongoDB schema is the Beanie documents: every collection the adapters use is a declared
document, and after `open_mongo` (that is, `init_beanie`) every declared index exists on the
server with its declared name, keys and options, the leases' TTL index included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from lucid_sessions.adapters.mongo.client import SCHEMA_COLLECTION
from lucid_sessions.adapters.mongo.documents import (
    DOCUMENT_MODELS,
    LEASE_LINGER_SECONDS,
    LeaseDocument,
    collection_of,
)
from lucid_sessions.domain.media import Fragment
from lucid_sessions.domain.ports.keyring import WrappedKey
from lucid_sessions.domain.ports.media_index import MediaProgress
from lucid_sessions.domain.ports.pipeline_stats import StageFigures
from lucid_sessions.domain.session_log import LogEntry, LogEventType
from tests.contract.conftest import open_mongo_stores
from tests.factories import at, make_chunk_record, make_session

pytestmark = pytest.mark.anyio

DECLARED = {document.Settings.name: document for document in DOCUMENT_MODELS}
FLAGS = ("unique", "sparse")  # absent means false (a server may also say `False`)
OPTIONS = ("expireAfterSeconds", "partialFilterExpression")


@pytest.fixture
async def database(mongo_url: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """The test's database, seen through a client of its own (not the adapters')."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_url, serverSelectionTimeoutMS=5000, tz_aware=True
    )
    try:
        yield client.get_default_database()
    finally:
        await client.close()


def declared_indexes(document: Any) -> list[dict[str, Any]]:
    indexes: list[IndexModel] = getattr(document.Settings, "indexes", [])
    return [index.document for index in indexes]


def test_every_collection_is_declared_once() -> None:
    assert len(DECLARED) == len(DOCUMENT_MODELS)
    assert set(DECLARED) == {
        "sessions",
        "chunks",
        "data_keys",
        "pipeline_stats",
        "session_log",
        "log_state",
        "leases",
        "media_progress",
        "media_fragments",
    }


async def test_open_mongo_creates_every_declared_index(
    mongo_url: str, database: AsyncDatabase[dict[str, Any]]
) -> None:
    async with open_mongo_stores(mongo_url, server_selection_timeout_ms=5000):
        for name, document in DECLARED.items():
            found = await collection_of(database, document).index_information()
            for wanted in declared_indexes(document):
                index = wanted["name"]
                assert index in found, (name, index, found)
                assert found[index]["key"] == list(wanted["key"].items()), (name, index)
                for flag in FLAGS:
                    assert bool(found[index].get(flag)) == bool(wanted.get(flag)), (index, flag)
                for option in OPTIONS:
                    assert found[index].get(option) == wanted.get(option), (name, index, option)


async def test_the_leases_carry_a_ttl_index_of_an_hour_past_expiry(
    mongo_url: str, database: AsyncDatabase[dict[str, Any]]
) -> None:
    """What this checks is the index, declared and created: a dead replica's leases do not
    pile up, and the hour's margin keeps a lease while a replica with a lagging clock still
    holds it. Removing expired documents is the server's own TTL monitor, not tested here."""
    assert declared_indexes(LeaseDocument) == [
        {"key": {"until": 1}, "name": "until_1", "expireAfterSeconds": LEASE_LINGER_SECONDS}
    ]
    async with open_mongo_stores(mongo_url, server_selection_timeout_ms=5000) as stores:
        assert stores.leases._leases.name == LeaseDocument.Settings.name
        found = await collection_of(database, LeaseDocument).index_information()
    assert found["until_1"]["key"] == [("until", 1)]
    assert found["until_1"]["expireAfterSeconds"] == 3600


async def test_a_database_made_before_leases_were_documents_opens_unchanged(
    mongo_url: str, database: AsyncDatabase[dict[str, Any]]
) -> None:
    """Earlier versions created the TTL index themselves (`create_index("until", ...)`): the
    declared index is that same index, so start-up neither fails nor adds a second one."""
    leases = database.get_collection("leases")
    await leases.create_index("until", expireAfterSeconds=3600)
    async with open_mongo_stores(mongo_url, server_selection_timeout_ms=5000) as stores:
        now = datetime.now(UTC)
        assert await stores.leases.acquire("upload:s1", "a", now, now + timedelta(seconds=10))
    found = await leases.index_information()
    assert sorted(found) == ["_id_", "until_1"]


async def test_every_collection_the_adapters_write_is_a_declared_document(
    mongo_url: str, database: AsyncDatabase[dict[str, Any]]
) -> None:
    async with open_mongo_stores(mongo_url, server_selection_timeout_ms=5000) as stores:
        await stores.sessions.add(make_session("sess-a"))
        await stores.chunks.put(make_chunk_record("sess-a", 0, data=b"frame"))
        await stores.data_keys.put_if_absent("sess-a", WrappedKey("k1", b"\x01" * 60))
        await stores.pipeline_stats.record("sess-a", {"storage": StageFigures(1, 0, 5, 5)})
        await stores.session_log.append(
            LogEntry(-1, LogEventType.COMPLETED, "sess-a", at(1), "system", "ab" * 32, 1)
        )
        await stores.session_log.record_anchored(1)
        now = datetime.now(UTC)
        await stores.leases.acquire("upload:sess-a", "a", now, now + timedelta(seconds=10))
        fragment = Fragment(0, 40, 60, 0, 90_000, 90_000, starts_on_sync=True)
        progress = MediaProgress("sess-a", 1, 100, 1, b"state", at(0))
        assert await stores.media.advance(None, progress, [fragment])
        written = set(await database.list_collection_names())
    # The documents, and the stamp of their shape's version (tests/contract/test_mongo_schema.py)
    assert written == set(DECLARED) | {SCHEMA_COLLECTION}


async def test_a_session_signed_before_key_ids_loads_without_one(
    mongo_url: str, database: AsyncDatabase[dict[str, Any]]
) -> None:
    """A session document an earlier version wrote has no `manifest_key_id`: it loads as
    None (its manifest names no key), and its signature and public key are kept."""
    async with open_mongo_stores(mongo_url, server_selection_timeout_ms=5000) as stores:
        session = make_session("sess-old")
        session.start(at(1))
        session.stop(at(2))
        session.begin_processing(at(3))
        session.sign_manifest(at(4), b"\x07" * 64, b"\x08" * 32, "0123456789abcdef")
        session.complete(at(5))
        await stores.sessions.add(session)
        sessions = database.get_collection("sessions")
        await sessions.update_one({"_id": "sess-old"}, {"$unset": {"manifest_key_id": ""}})
        loaded = await stores.sessions.get("sess-old")
    assert loaded.manifest_key_id is None
    assert (loaded.manifest_signature, loaded.manifest_public_key) == (b"\x07" * 64, b"\x08" * 32)
