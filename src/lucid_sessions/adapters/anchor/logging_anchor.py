"""LoggingAnchor: without BLOCKCHAIN_ENGINE_URL, each new tree head is only logged."""

from __future__ import annotations

import structlog

from lucid_sessions.domain.ports.anchor import Anchor
from lucid_sessions.domain.session_log import TreeHead

__all__ = ["LoggingAnchor"]

_log = structlog.get_logger("lucid_sessions.anchoring")


class LoggingAnchor(Anchor):
    """A log line is not an anchor: the log's anchored size stays where it is."""

    durable = False

    async def publish(self, head: TreeHead) -> None:
        _log.info(
            "log_head_not_anchored", reason="BLOCKCHAIN_ENGINE_URL is not set", **head.document()
        )
