"""Anchoring: publish the session log's signed tree head when the log has grown."""

from __future__ import annotations

import logging

from lucid_sessions.app.usecases.session_log import SessionLogReader
from lucid_sessions.domain.ports.anchor import Anchor
from lucid_sessions.domain.ports.session_log import SessionLog
from lucid_sessions.domain.ports.telemetry import AnchoringOutcome, Telemetry

__all__ = ["AnchorLog"]

_log = logging.getLogger("lucid_sessions.anchoring")


class AnchorLog:
    """Publishes a signed head when the log is larger than what was last anchored, then
    records the new size (in the store, so a restart does not publish it again). Raises
    AnchorUnavailable when the anchor refuses; the periodic job retries with backoff."""

    def __init__(
        self, log: SessionLog, reader: SessionLogReader, anchor: Anchor, telemetry: Telemetry
    ) -> None:
        self._log, self._reader, self._anchor = log, reader, anchor
        self._telemetry = telemetry

    async def __call__(self) -> int | None:
        """The size anchored now, or None when there was nothing new."""
        anchored = await self._log.anchored_size()
        head = await self._reader.head()
        if head.tree_size <= anchored:
            return None
        try:
            await self._anchor.publish(head)
        except Exception:
            self._telemetry.anchoring(AnchoringOutcome.FAILED)
            raise
        self._telemetry.anchoring(AnchoringOutcome.ANCHORED)
        await self._log.record_anchored(head.tree_size)
        _log.info("log_anchored", extra={"tree_size": head.tree_size, "root": head.root.hex()})
        return head.tree_size
