"""The published key set: every signing key of the service, current and retired."""

from __future__ import annotations

import anyio.to_thread

from lucid_sessions.domain.ports.signer import Signer, SigningKey
from lucid_sessions.domain.principal import Principal

__all__ = ["ReadKeySet"]


class ReadKeySet:
    """The keys that verify what the service signed, oldest first, for any authenticated
    principal: public keys only, read from the shared key store each time, so a rotation
    made by another process shows at once."""

    def __init__(self, signer: Signer) -> None:
        self._signer = signer

    async def __call__(self, principal: Principal) -> list[SigningKey]:
        # A token answers over a device: off the event loop.
        return await anyio.to_thread.run_sync(self._signer.key_set)
