"""MongoPipelineStats: pipeline figures in MongoDB, added with `$inc` (no lost updates)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from lucid_sessions.adapters.documents import from_native, to_native
from lucid_sessions.adapters.mongo.errors import storage_errors
from lucid_sessions.domain.ports.pipeline_stats import PipelineStats, StageFigures

__all__ = ["MongoPipelineStats"]

Collection = AsyncCollection[dict[str, Any]]

_TOTALS = tuple(f.name for f in fields(StageFigures) if f.name != "last_error")


class MongoPipelineStats(PipelineStats):
    """Stage totals in the `pipeline_stats` collection (see `documents`); `record` adds each
    stage's figures with an `$inc` upsert, all in one bulk write."""

    def __init__(self, collection: Collection) -> None:
        self._stages = collection

    async def record(self, session_id: str, figures: dict[str, StageFigures]) -> None:
        if not figures:
            return
        updates = []
        for stage, more in figures.items():
            added = to_native(more)
            change: dict[str, Any] = {
                "$inc": {name: added[name] for name in _TOTALS},
                "$setOnInsert": {"session_id": session_id, "stage": stage},
            }
            if more.last_error is not None:
                change["$set"] = {"last_error": more.last_error}
            updates.append(UpdateOne({"_id": f"{session_id}:{stage}"}, change, upsert=True))
        with storage_errors("record pipeline figures"):
            await self._stages.bulk_write(updates, ordered=False)

    async def get(self, session_id: str) -> dict[str, StageFigures]:
        with storage_errors("read pipeline figures"):
            documents = await self._stages.find({"session_id": session_id}).to_list()
        return {d["stage"]: from_native(d, StageFigures) for d in documents}

    async def delete_session(self, session_id: str) -> None:
        with storage_errors("delete pipeline figures"):
            await self._stages.delete_many({"session_id": session_id})
