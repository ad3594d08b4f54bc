"""Health of the service's dependencies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import anyio.to_thread

from lucid_sessions.app.signing import sign_with_current_key
from lucid_sessions.domain.errors import IntegrityError
from lucid_sessions.domain.ports.clock import Clock
from lucid_sessions.domain.ports.health_probe import HealthProbe
from lucid_sessions.domain.ports.keyring import KeyRing
from lucid_sessions.domain.ports.signer import Signer
from lucid_sessions.domain.ports.usage_probe import UsageProbe

__all__ = ["CheckHealth", "HealthReport", "KeyProbe", "probe_keys"]

Check = Literal["ok", "down", "disabled", "low"]
Status = Literal["healthy", "degraded", "unhealthy"]
SignatureCheck = Callable[[bytes, bytes, bytes], bool]

_PROBE = b"lucid-sessions health probe"


@dataclass(frozen=True, slots=True)
class KeyProbe:
    """What `probe_keys` used: the current master key and signing key (None: not probed)."""

    master_key_id: str | None
    signing_key_id: str | None


def probe_keys(
    keyring: KeyRing | None, signer: Signer | None, check_signature: SignatureCheck | None
) -> KeyProbe:
    """Use the keys once, as the service does: a fresh data key wrapped and unwrapped through
    the master key ring, a probe message signed by the current signing key and verified under
    its public key. Blocking (the keys may be in a token). Raises what the keys raise
    (`StorageUnavailable` for a token that is out), `IntegrityError` for a wrong answer."""
    master_key_id = signing_key_id = None
    if keyring is not None:
        key, wrapped = keyring.new_data_key()
        if keyring.unwrap(wrapped) != key:
            raise IntegrityError(
                f"the master key {wrapped.key_id!r} unwraps a data key to other bytes than it "
                "wrapped"
            )
        master_key_id = wrapped.key_id
    if signer is not None:
        signing_key, signature = sign_with_current_key(signer, lambda _: _PROBE)
        if check_signature is not None and not check_signature(
            signing_key.public_key, _PROBE, signature
        ):
            raise IntegrityError(
                f"a signature by the signing key {signing_key.key_id} does not verify under "
                "its public key"
            )
        signing_key_id = signing_key.key_id
    return KeyProbe(master_key_id, signing_key_id)


@dataclass(frozen=True, slots=True)
class HealthReport:
    status: Status
    checks: dict[str, Check]
    timestamp: datetime
    warnings: tuple[str, ...] = ()


class CheckHealth:
    """What each check means and what it does to the status:

    - `database`, `storage` (the folders answer and are writable): down → unhealthy.
    - `keys`: a fresh data key wraps and unwraps through the master key ring, and the current
      signing key signs a probe that verifies under its public key; down → unhealthy (chunks
      could no longer be sealed or opened, recordings no longer completed). With the keys in
      a token these are a few calls to it, made in a worker thread so the event loop never
      waits on the token.
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
        keyring: KeyRing | None = None,
        signer: Signer | None = None,
        check_signature: SignatureCheck | None = None,
        usage: UsageProbe | None = None,
        min_free_bytes: int = 0,
    ) -> None:
        self._clock, self._database, self._storage, self._cache = clock, database, storage, cache
        self._warnings = warnings
        self._keyring, self._signer, self._check_signature = keyring, signer, check_signature
        self._usage, self._min_free = usage, min_free_bytes

    async def __call__(self) -> HealthReport:
        database: Check = "ok" if await self._database.ping() else "down"
        storage: Check = "ok" if await self._storage.ping() else "down"
        cache: Check = "disabled"
        if self._cache is not None:
            cache = "ok" if await self._cache.ping() else "down"
        checks: dict[str, Check] = {"database": database, "cache": cache, "storage": storage}
        if self._keyring is not None or self._signer is not None:
            checks["keys"] = await anyio.to_thread.run_sync(self._keys)
        if self._usage is not None:
            checks["free_space"] = await self._free_space()
        status: Status = "healthy"
        if "down" in (database, storage, checks.get("keys")):
            status = "unhealthy"
        elif cache == "down" or checks.get("free_space") == "low":
            status = "degraded"
        return HealthReport(status, checks, self._clock.now(), self._warnings)

    def _keys(self) -> Check:
        """`probe_keys` (in a worker thread): "down" when it fails in any way."""
        try:
            probe_keys(self._keyring, self._signer, self._check_signature)
        except Exception:  # keys that cannot be used are what this check is for
            return "down"
        return "ok"

    async def _free_space(self) -> Check:
        assert self._usage is not None
        try:
            free = (await self._usage.usage()).free_bytes
        except Exception:  # the storage check reports the folder itself
            return "low"
        return "ok" if free >= self._min_free else "low"
