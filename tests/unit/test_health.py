"""CheckHealth: which check moves the status where (fakes for the probes, real keys)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from lucid_sessions.adapters.crypto import verify_signature
from lucid_sessions.adapters.crypto.keyring import StaticKeyRing
from lucid_sessions.adapters.memory import FrozenClock, InMemoryHealthProbe
from lucid_sessions.adapters.memory.signer import InMemorySigner
from lucid_sessions.app.usecases.health import CheckHealth
from lucid_sessions.domain.errors import StorageUnavailable
from lucid_sessions.domain.ports.keyring import KeyRing, WrappedKey
from lucid_sessions.domain.ports.signer import Signer
from lucid_sessions.domain.ports.usage_probe import StorageUsage, UsageProbe

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024
NOW = datetime(2025, 1, 1, tzinfo=UTC)


class FixedUsage(UsageProbe):
    def __init__(self, free_bytes: int) -> None:
        self.free_bytes = free_bytes

    async def usage(self) -> StorageUsage:
        return StorageUsage(free_bytes=self.free_bytes, used_bytes=0)


def master_keys() -> StaticKeyRing:
    return StaticKeyRing({"k1": os.urandom(32)}, "k1")


class GoneSigner(InMemorySigner):
    """A key that no longer signs (a token removed, a file replaced by garbage)."""

    def sign(self, key_id: str, message: bytes) -> bytes:
        raise StorageUnavailable("the token is unavailable", retry_after_seconds=5)


class ForgingSigner(InMemorySigner):
    """Signs with another key than the public key it publishes."""

    def __init__(self) -> None:
        super().__init__(NOW)
        self._other = InMemorySigner(NOW)

    def sign(self, key_id: str, message: bytes) -> bytes:
        return self._other.sign(self._other.current().key_id, message)


class GoneKeyRing(StaticKeyRing):
    """Master keys that can no longer be used (the token is out)."""

    def __init__(self) -> None:
        super().__init__({"k1": os.urandom(32)}, "k1")

    def new_data_key(self) -> tuple[bytes, WrappedKey]:
        raise StorageUnavailable("the token is unavailable", retry_after_seconds=5)


class ForgetfulKeyRing(StaticKeyRing):
    """Unwraps to another key than the one it wrapped."""

    def __init__(self) -> None:
        super().__init__({"k1": os.urandom(32)}, "k1")

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        return os.urandom(32)


def check(
    *,
    keyring: KeyRing | None = None,
    signer: Signer | None = None,
    free_mb: int = 1024,
    database: bool = True,
    cache: bool | None = None,
) -> CheckHealth:
    return CheckHealth(
        FrozenClock(),
        InMemoryHealthProbe(database),
        InMemoryHealthProbe(True),
        None if cache is None else InMemoryHealthProbe(cache),
        keyring=keyring or master_keys(),
        signer=signer or InMemorySigner(NOW),
        check_signature=verify_signature,
        usage=FixedUsage(free_mb * MIB),
        min_free_bytes=64 * MIB,
    )


async def test_everything_up_is_healthy() -> None:
    report = await check()()
    assert report.status == "healthy"
    assert report.checks == {
        "database": "ok",
        "cache": "disabled",
        "storage": "ok",
        "keys": "ok",
        "free_space": "ok",
    }


@pytest.mark.parametrize("signer", [lambda: GoneSigner(NOW), ForgingSigner])
async def test_a_signing_key_that_cannot_sign_is_unhealthy(signer: type[Signer]) -> None:
    report = await check(signer=signer())()
    assert report.checks["keys"] == "down"
    assert report.status == "unhealthy"


@pytest.mark.parametrize("keyring", [GoneKeyRing, ForgetfulKeyRing])
async def test_master_keys_that_cannot_wrap_and_unwrap_are_unhealthy(
    keyring: type[KeyRing],
) -> None:
    report = await check(keyring=keyring())()
    assert report.checks["keys"] == "down"
    assert report.status == "unhealthy"


async def test_the_probe_signs_with_the_key_current_after_a_rotation() -> None:
    signer = InMemorySigner(NOW)
    signer.rotate(NOW)
    assert (await check(signer=signer)()).checks["keys"] == "ok"


async def test_free_space_below_the_floor_is_degraded_not_unhealthy() -> None:
    report = await check(free_mb=10)()
    assert report.checks["free_space"] == "low"
    assert report.status == "degraded"
    assert (await check(free_mb=64)()).checks["free_space"] == "ok"


async def test_the_database_outranks_the_optional_checks() -> None:
    report = await check(database=False, cache=False, free_mb=1)()
    assert report.status == "unhealthy"
    assert report.checks["cache"] == "down"
