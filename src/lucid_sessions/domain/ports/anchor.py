"""Port: where signed tree heads of the session log are published (the blockchain engine)."""

from __future__ import annotations

import abc
from typing import Protocol

from lucid_sessions.domain.session_log import TreeHead

__all__ = ["Anchor"]


class Anchor(Protocol):
    """Publishes a signed tree head so that it can be checked later by others.

    `publish` returns once the head is accepted, and raises `AnchorUnavailable` when it was
    not (unreachable, refused, timed out); the caller retries. Publishing the same head
    again is harmless.

    `durable` says whether an accepted head is kept where others can check it later; only
    then does the service record the log's "anchored size".
    """

    durable: bool = True

    @abc.abstractmethod
    async def publish(self, head: TreeHead) -> None: ...
