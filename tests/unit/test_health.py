"""CheckHealth: which check moves the status where (fakes for the probes, the real signer)."""

from __future__ import annotations

import pytest

from lucid_sessions.adapters.crypto import verify_signature
from lucid_sessions.adapters.crypto.signer import Ed25519Signer
from lucid_sessions.adapters.memory import FrozenClock, InMemoryHealthProbe
from lucid_sessions.app.usecases.health import CheckHealth
from lucid_sessions.domain.ports.usage_probe import StorageUsage, UsageProbe

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024


class FixedUsage(UsageProbe):
    def __init__(self, free_bytes: int) -> None:
        self.free_bytes = free_bytes

    async def usage(self) -> StorageUsage:
        return StorageUsage(free_bytes=self.free_bytes, used_bytes=0)


class BrokenSigner(Ed25519Signer):
    """A key that no longer signs (an HSM gone, a file replaced by garbage)."""

    def sign(self, message: bytes) -> bytes:
        raise OSError("the key is gone")


class ForgingSigner(Ed25519Signer):
    """Signs with another key than the public key it names."""

    def __init__(self) -> None:
        self._real, self._other = Ed25519Signer.generate(), Ed25519Signer.generate()

    def sign(self, message: bytes) -> bytes:
        return self._other.sign(message)

    def public_key(self) -> bytes:
        return self._real.public_key()


def check(
    *,
    signer: Ed25519Signer | None = None,
    free_mb: int = 1024,
    database: bool = True,
    cache: bool | None = None,
) -> CheckHealth:
    return CheckHealth(
        FrozenClock(),
        InMemoryHealthProbe(database),
        InMemoryHealthProbe(True),
        None if cache is None else InMemoryHealthProbe(cache),
        signer=signer or Ed25519Signer.generate(),
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
        "signing_key": "ok",
        "free_space": "ok",
    }


@pytest.mark.parametrize("signer", [BrokenSigner.generate, ForgingSigner])
async def test_a_signing_key_that_cannot_sign_is_unhealthy(signer: type[Ed25519Signer]) -> None:
    report = await check(signer=signer())()
    assert report.checks["signing_key"] == "down"
    assert report.status == "unhealthy"


async def test_free_space_below_the_floor_is_degraded_not_unhealthy() -> None:
    report = await check(free_mb=10)()
    assert report.checks["free_space"] == "low"
    assert report.status == "degraded"
    assert (await check(free_mb=64)()).checks["free_space"] == "ok"


async def test_the_database_outranks_the_optional_checks() -> None:
    report = await check(database=False, cache=False, free_mb=1)()
    assert report.status == "unhealthy"
    assert report.checks["cache"] == "down"
