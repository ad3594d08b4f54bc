"""Anchoring: publish the session log's signed tree head when the log has grown."""

from __future__ import annotations

import logging

from lucid_sessions.app.claims import Claims
from lucid_sessions.app.usecases.session_log import ReadSessionLog
from lucid_sessions.domain.ports.anchor import Anchor
from lucid_sessions.domain.ports.session_log import SessionLog
from lucid_sessions.domain.ports.telemetry import AnchoringOutcome, Telemetry

__all__ = ["AnchorLog"]

_log = logging.getLogger("lucid_sessions.anchoring")


ANCHOR_LEASE = "anchor"


class AnchorLog:
    """Publishes a signed head when the log is larger than what was last anchored, then
    records the new size (in the store, so a restart does not publish it again). Raises
    AnchorUnavailable when the anchor refuses; the periodic job retries with backoff.

    An anchor that is not `durable` (the log-only one) is given each new head once per
    process, and the anchored size is left as it is: nothing was anchored."""

    def __init__(
        self,
        log: SessionLog,
        reader: ReadSessionLog,
        anchor: Anchor,
        telemetry: Telemetry,
        claims: Claims,
    ) -> None:
        self._log, self._reader, self._anchor = log, reader, anchor
        self._telemetry, self._claims = telemetry, claims
        self._published = 0

    async def __call__(self) -> int | None:
        """The size anchored now, or None when there was nothing new (or when another
        replica is anchoring: it publishes the head, once)."""
        if not await self._claims.take(ANCHOR_LEASE):
            return None
        try:
            return await self._publish()
        finally:
            await self._claims.release(ANCHOR_LEASE)

    async def _publish(self) -> int | None:
        anchored = max(await self._log.anchored_size(), self._published)
        head = await self._reader.head()
        if head.tree_size <= anchored:
            return None
        try:
            await self._anchor.publish(head)
        except Exception:
            self._telemetry.anchoring(AnchoringOutcome.FAILED)
            raise
        self._published = head.tree_size
        if not self._anchor.durable:
            return None
        self._telemetry.anchoring(AnchoringOutcome.ANCHORED)
        await self._log.record_anchored(head.tree_size)
        _log.info("log_anchored", extra={"tree_size": head.tree_size, "root": head.root.hex()})
        return head.tree_size
