"""HttpAnchor: POST each new signed tree head to the blockchain engine.

The body is `{"type": "lucid-sessions/log-head", "head": {tree_size, root, timestamp,
public_key, signature}}` as JSON; any 2xx answer means accepted. Each attempt is bounded by
`timeout_seconds`; retries and backoff belong to the caller (the anchoring job). Heads are
published at most once a minute or so, so each attempt opens its own connection.
"""

from __future__ import annotations

import httpx

from lucid_sessions.domain.errors import AnchorUnavailable
from lucid_sessions.domain.ports.anchor import Anchor
from lucid_sessions.domain.session_log import TreeHead

__all__ = ["HEAD_TYPE", "HttpAnchor"]

HEAD_TYPE = "lucid-sessions/log-head"


class HttpAnchor(Anchor):
    def __init__(self, url: str, timeout_seconds: float = 5.0) -> None:
        self._url, self._timeout = url, timeout_seconds

    async def publish(self, head: TreeHead) -> None:
        body = {"type": HEAD_TYPE, "head": head.document()}
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                answer = await client.post(self._url, json=body)
        except httpx.HTTPError as exc:
            raise AnchorUnavailable(
                f"the blockchain engine did not take the tree head: {type(exc).__name__}"
            ) from exc
        if not 200 <= answer.status_code < 300:
            raise AnchorUnavailable(
                f"the blockchain engine refused the tree head: HTTP {answer.status_code}"
            )
