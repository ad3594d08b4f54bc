"""Health of the service's dependencies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from lucid_sessions.domain.ports.clock import Clock
from lucid_sessions.domain.ports.health_probe import HealthProbe
from lucid_sessions.domain.ports.signer import Signer
from lucid_sessions.domain.ports.usage_probe import UsageProbe

__all__ = ["CheckHealth", "HealthReport"]

Check = Literal["ok", "down", "disabled", "low"]
Status = Literal["healthy", "degraded", "unhealthy"]
SignatureCheck = Callable[[bytes, bytes, bytes], bool]

_PROBE = b"lucid-sessions health probe"


@dataclass(frozen=True, slots=True)
class HealthReport:
    status: Status
    checks: dict[str, Check]
    timestamp: datetime
    warnings: tuple[str, ...] = ()


class CheckHealth:
    """What each check means and what it does to the status:

    - `database`, `storage` (the folders answer and are writable): down → unhealthy.
    - `signing_key`: the manifest key signs, and the signature verifies under its public key;
      down → unhealthy (recordings could no longer be completed).
    - `free_space`: the chunk store has at least `min_free_bytes` free; low → degraded (new
      chunks answer 507 while reads, stop and finalization go on).
    - `cache`: optional; down → degraded, `disabled` when none is configured.

    `warnings` are standing facts an operator must see (authentication switched off).
    """

    def __init__(
        self,
        clock: Clock,
        database: HealthProbe,
        storage: HealthProbe,
        cache: HealthProbe | None = None,
        warnings: tuple[str, ...] = (),
        *,
        signer: Signer | None = None,
        check_signature: SignatureCheck | None = None,
        usage: UsageProbe | None = None,
        min_free_bytes: int = 0,
    ) -> None:
        self._clock, self._database, self._storage, self._cache = clock, database, storage, cache
        self._warnings = warnings
        self._signer, self._check_signature = signer, check_signature
        self._usage, self._min_free = usage, min_free_bytes

    async def __call__(self) -> HealthReport:
        database: Check = "ok" if await self._database.ping() else "down"
        storage: Check = "ok" if await self._storage.ping() else "down"
        cache: Check = "disabled"
        if self._cache is not None:
            cache = "ok" if await self._cache.ping() else "down"
        checks: dict[str, Check] = {"database": database, "cache": cache, "storage": storage}
        if self._signer is not None:
            checks["signing_key"] = self._signing_key()
        if self._usage is not None:
            checks["free_space"] = await self._free_space()
        status: Status = "healthy"
        if "down" in (database, storage, checks.get("signing_key")):
            status = "unhealthy"
        elif cache == "down" or checks.get("free_space") == "low":
            status = "degraded"
        return HealthReport(status, checks, self._clock.now(), self._warnings)

    def _signing_key(self) -> Check:
        assert self._signer is not None
        try:
            signature = self._signer.sign(_PROBE)
            public_key = self._signer.public_key()
            if self._check_signature is not None:
                return "ok" if self._check_signature(public_key, _PROBE, signature) else "down"
        except Exception:  # a key that cannot sign is what this check is for
            return "down"
        return "ok"

    async def _free_space(self) -> Check:
        assert self._usage is not None
        try:
            free = (await self._usage.usage()).free_bytes
        except Exception:  # the storage check reports the folder itself
            return "low"
        return "ok" if free >= self._min_free else "low"
