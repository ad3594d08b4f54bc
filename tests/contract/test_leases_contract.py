"""Contract of the `Leases` port, on the one-process adapter and on MongoDB: one holder at a
time, even among racing callers; the holder extends and releases; an expired lease is
anyone's; a release by another owner changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from lucid_sessions.adapters.system.local_leases import LocalLeases
from lucid_sessions.domain.ports.leases import Leases
from tests.contract.conftest import open_mongo_stores

pytestmark = pytest.mark.anyio

# Leases near the present: MongoDB's TTL index removes lease documents an hour after they
# expired by the server's clock, so a lease dated in the past would vanish under the test.
T0 = datetime.now(UTC).replace(microsecond=0)
SECOND = timedelta(seconds=1)


@pytest.fixture(params=["local", "mongo"])
async def leases(request: pytest.FixtureRequest) -> AsyncIterator[Leases]:
    if request.param == "local":
        yield LocalLeases()
        return
    url = request.getfixturevalue("mongo_url")
    async with open_mongo_stores(url, server_selection_timeout_ms=5000) as stores:
        yield stores.leases


async def test_one_holder_at_a_time(leases: Leases) -> None:
    assert await leases.acquire("upload:s1", "a", T0, T0 + 10 * SECOND)
    assert not await leases.acquire("upload:s1", "b", T0 + SECOND, T0 + 11 * SECOND)
    assert await leases.acquire("upload:s2", "b", T0, T0 + 10 * SECOND), "names are apart"
    assert await leases.acquire("upload:s1", "a", T0 + SECOND, T0 + 20 * SECOND), "extended"
    assert not await leases.acquire("upload:s1", "b", T0 + 15 * SECOND, T0 + 25 * SECOND)


async def test_release_frees_it_for_others_but_only_by_its_holder(leases: Leases) -> None:
    assert await leases.acquire("finalize:s1", "a", T0, T0 + 10 * SECOND)
    await leases.release("finalize:s1", "b")
    assert not await leases.acquire("finalize:s1", "b", T0, T0 + 10 * SECOND)
    await leases.release("finalize:s1", "a")
    assert await leases.acquire("finalize:s1", "b", T0, T0 + 10 * SECOND)
    await leases.release("never-held", "a")


async def test_an_expired_lease_is_anyones(leases: Leases) -> None:
    assert await leases.acquire("upload:s1", "dead", T0, T0 + 10 * SECOND)
    assert not await leases.acquire("upload:s1", "b", T0 + 9 * SECOND, T0 + 20 * SECOND)
    assert await leases.acquire("upload:s1", "b", T0 + 10 * SECOND, T0 + 20 * SECOND)
    assert not await leases.acquire("upload:s1", "dead", T0 + 11 * SECOND, T0 + 21 * SECOND)


async def test_of_racing_callers_exactly_one_wins(leases: Leases) -> None:
    for round_number in range(5):
        name = f"upload:race-{round_number}"
        winners: list[str] = []

        async def take(owner: str, name: str = name, winners: list[str] = winners) -> None:
            if await leases.acquire(name, owner, T0, T0 + 10 * SECOND):
                winners.append(owner)

        async with anyio.create_task_group() as group:
            for n in range(8):
                group.start_soon(take, f"replica-{n}")
        assert len(winners) == 1, winners
