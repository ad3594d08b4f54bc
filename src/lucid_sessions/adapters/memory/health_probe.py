"""InMemoryHealthProbe: a dependency that is up or down as the test says."""

from __future__ import annotations

from anyio.lowlevel import checkpoint

from lucid_sessions.domain.ports.health_probe import HealthProbe

__all__ = ["InMemoryHealthProbe"]


class InMemoryHealthProbe(HealthProbe):
    def __init__(self, up: bool = True) -> None:
        self.up = up

    async def ping(self) -> bool:
        await checkpoint()
        return self.up
