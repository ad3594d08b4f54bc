"""MongoLeases: leases as documents `{_id: name, owner, until}` in the `leases` collection.

The collection and its TTL index are declared by `documents.LeaseDocument` (created by
`init_beanie` in `open_mongo`): a lease document is removed `LEASE_LINGER_SECONDS` after it
expired.

`acquire` is one conditional upsert: it matches the lease only when it is expired or already
ours; when another owner holds it the filter matches nothing, the upsert inserts a second
document with the same `_id`, and MongoDB refuses it with a duplicate key: that caller did
not get the lease. So of racing replicas exactly one wins, with no read-then-write gap.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from lucid_sessions.adapters.mongo.documents import LEASE_LINGER_SECONDS
from lucid_sessions.adapters.mongo.errors import storage_errors
from lucid_sessions.domain.ports.leases import Leases

__all__ = ["LEASE_LINGER_SECONDS", "MongoLeases"]


class MongoLeases(Leases):
    """Leases in the `leases` collection (see `documents`)."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self._leases = collection

    async def acquire(self, name: str, owner: str, now: datetime, until: datetime) -> bool:
        with storage_errors("take a lease"):
            try:
                await self._leases.update_one(
                    {"_id": name, "$or": [{"until": {"$lte": now}}, {"owner": owner}]},
                    {"$set": {"owner": owner, "until": until}},
                    upsert=True,
                )
            except DuplicateKeyError:
                return False
        return True

    async def release(self, name: str, owner: str) -> None:
        with storage_errors("release a lease"):
            await self._leases.delete_one({"_id": name, "owner": owner})
