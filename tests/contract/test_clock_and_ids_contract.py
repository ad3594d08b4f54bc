"""Contracts of the `Clock` and `IdGenerator` ports, on the real adapters and the fakes."""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import pytest

from lucid_sessions.adapters.memory import FrozenClock, SequentialIdGenerator
from lucid_sessions.adapters.system.clock import SystemClock
from lucid_sessions.adapters.system.id_generator import UlidIdGenerator
from lucid_sessions.domain.ports.clock import Clock
from lucid_sessions.domain.ports.id_generator import IdGenerator

ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@pytest.fixture(params=["system", "frozen"])
def clock(request: pytest.FixtureRequest) -> Clock:
    if request.param == "system":
        return SystemClock()
    frozen = FrozenClock()
    frozen.advance(0.123456789)  # a finer step than the port answers with
    return frozen


@pytest.fixture(params=["ulid", "sequential"])
def ids(request: pytest.FixtureRequest) -> IdGenerator:
    return UlidIdGenerator() if request.param == "ulid" else SequentialIdGenerator()


def test_now_is_utc_to_the_millisecond_and_never_goes_back(clock: Clock) -> None:
    readings = [clock.now() for _ in range(1000)]
    for moment in readings:
        assert moment.utcoffset() == timedelta(0)
        assert moment.tzinfo is UTC
        assert moment.microsecond % 1000 == 0
    assert readings == sorted(readings)


def test_frozen_clock_moves_only_when_told() -> None:
    clock = FrozenClock()
    first = clock.now()
    assert clock.now() == first
    assert clock.advance(1.5) == first + timedelta(seconds=1.5) == clock.now()


def test_ids_are_valid_unique_and_sort_in_creation_order(ids: IdGenerator) -> None:
    made = [ids.new_session_id() for _ in range(10_000)]
    assert all(ID.match(value) for value in made)
    assert len(set(made)) == len(made)
    assert made == sorted(made)


def test_ulids_look_like_the_contract_says() -> None:
    value = UlidIdGenerator().new_session_id()
    assert re.fullmatch(r"sess-[0-9A-HJKMNP-TV-Z]{26}", value)
