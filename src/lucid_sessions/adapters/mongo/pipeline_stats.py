"""MongoPipelineStats: pipeline figures in MongoDB."""

from __future__ import annotations

from typing import Any

from pymongo import UpdateOne

from lucid_sessions.adapters.mongo.documents import StageDocument
from lucid_sessions.adapters.mongo.errors import storage_errors
from lucid_sessions.domain.ports.pipeline_stats import PipelineStats, StageFigures

__all__ = ["MongoPipelineStats"]


class MongoPipelineStats(PipelineStats):
    """Stage totals; `record` adds with `$inc` upserts in one bulk write (no lost updates)."""

    async def record(self, session_id: str, figures: dict[str, StageFigures]) -> None:
        if not figures:
            return
        updates = []
        for stage, more in figures.items():
            change: dict[str, Any] = {
                "$inc": {
                    "processed": more.processed,
                    "failed": more.failed,
                    "bytes_in": more.bytes_in,
                    "bytes_out": more.bytes_out,
                    "seconds": float(more.seconds),
                },
                "$setOnInsert": {"session_id": session_id, "stage": stage},
            }
            if more.last_error is not None:
                change["$set"] = {"last_error": more.last_error}
            updates.append(UpdateOne({"_id": f"{session_id}:{stage}"}, change, upsert=True))
        with storage_errors("record pipeline figures"):
            await StageDocument.get_pymongo_collection().bulk_write(updates, ordered=False)

    async def get(self, session_id: str) -> dict[str, StageFigures]:
        with storage_errors("read pipeline figures"):
            documents = await StageDocument.find({"session_id": session_id}).to_list()
        return {
            d.stage: StageFigures(
                d.processed, d.failed, d.bytes_in, d.bytes_out, d.seconds, d.last_error
            )
            for d in documents
        }

    async def delete_session(self, session_id: str) -> None:
        with storage_errors("delete pipeline figures"):
            await StageDocument.find({"session_id": session_id}).delete()
