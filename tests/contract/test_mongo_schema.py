"""The MongoDB store is stamped with the version of its documents' shape: a database written
by a newer version is refused, whole and untouched, instead of having its documents rewritten
without the fields this version does not know (as SQLite's schema number does)."""

from __future__ import annotations

import pytest
from pymongo import MongoClient

from lucid_sessions.adapters.mongo import open_mongo
from lucid_sessions.adapters.mongo.client import SCHEMA_COLLECTION, SCHEMA_VERSION, SchemaTooNew

pytestmark = pytest.mark.anyio


def _stamp(url: str) -> int | None:
    with MongoClient(url) as client:
        found = client.get_default_database()[SCHEMA_COLLECTION].find_one({"_id": "schema"})
    return None if found is None else int(found["version"])


def _set(url: str, version: int) -> None:
    with MongoClient(url) as client:
        client.get_default_database()[SCHEMA_COLLECTION].update_one(
            {"_id": "schema"}, {"$set": {"version": version}}, upsert=True
        )


async def test_a_new_database_is_stamped_and_an_older_one_too(mongo_url: str) -> None:
    assert _stamp(mongo_url) is None
    async with open_mongo(mongo_url):
        pass
    assert _stamp(mongo_url) == SCHEMA_VERSION
    _set(mongo_url, 0)  # as a version before the stamp left it
    async with open_mongo(mongo_url):
        pass
    assert _stamp(mongo_url) == SCHEMA_VERSION


async def test_a_database_of_a_newer_version_is_refused_and_left_alone(mongo_url: str) -> None:
    _set(mongo_url, SCHEMA_VERSION + 1)
    with pytest.raises(SchemaTooNew, match=rf"schema version {SCHEMA_VERSION + 1}, newer"):
        async with open_mongo(mongo_url):
            pytest.fail("a newer database must not be opened")
    assert _stamp(mongo_url) == SCHEMA_VERSION + 1
