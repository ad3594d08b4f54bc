"""MongoHealthProbe: does MongoDB answer a ping, quickly? Never raises."""

from __future__ import annotations

from typing import Any

import anyio
import pymongo
from pymongo import AsyncMongoClient

from lucid_sessions.domain.ports.health_probe import HealthProbe

__all__ = ["MongoHealthProbe"]


class MongoHealthProbe(HealthProbe):
    """The `database` check of /health when MONGODB_URL is set (`MongoStores.health`)."""

    def __init__(self, client: AsyncMongoClient[Any], timeout_seconds: float = 1.0) -> None:
        self._client = client
        self._timeout = timeout_seconds

    async def ping(self) -> bool:
        with anyio.move_on_after(self._timeout * 2):
            try:
                with pymongo.timeout(self._timeout):
                    await self._client.admin.command("ping")
            except Exception:  # any failure means "down": a probe never raises
                return False
            return True
        return False
