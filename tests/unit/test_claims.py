"""Claims: one holder of a name at a time across processes sharing the leases; a waiter gets
it when the holder lets go, or when the holder's lease expires (it died); otherwise 503."""

from __future__ import annotations

import anyio
import pytest

from lucid_sessions.adapters.memory import FrozenClock
from lucid_sessions.adapters.system.local_leases import LocalLeases
from lucid_sessions.app.claims import Claims
from lucid_sessions.domain.errors import StorageUnavailable

pytestmark = pytest.mark.anyio


def two_replicas(**options: float) -> tuple[Claims, Claims, FrozenClock]:
    leases, clock = LocalLeases(), FrozenClock()  # one shared store, one clock
    return Claims(leases, clock, "a", **options), Claims(leases, clock, "b", **options), clock


async def test_a_waiter_gets_the_claim_when_the_holder_lets_go() -> None:
    a, b, _ = two_replicas()
    order: list[str] = []

    async def second() -> None:
        async with b.hold("upload:s1"):
            order.append("b")

    async with anyio.create_task_group() as group, a.hold("upload:s1"):
        group.start_soon(second)
        await anyio.sleep(0.05)
        order.append("a")
    assert order == ["a", "b"]


async def test_a_dead_holder_is_taken_over_when_its_lease_expires() -> None:
    a, b, clock = two_replicas(ttl_seconds=20, wait_seconds=0.3)
    assert await a.take("finalize:s1")  # and then "a" dies without releasing
    with pytest.raises(StorageUnavailable, match="in progress elsewhere"):
        async with b.hold("finalize:s1"):
            pass
    clock.advance(20)
    async with b.hold("finalize:s1"):
        assert not await a.take("finalize:s1")
    assert await a.take("finalize:s1")


async def test_giving_up_answers_503_quickly() -> None:
    a, b, _ = two_replicas(wait_seconds=0.2)
    async with a.hold("upload:s1"):
        with anyio.fail_after(2), pytest.raises(StorageUnavailable) as busy:
            async with b.hold("upload:s1"):
                pass
    assert busy.value.retry_after_seconds == 1
