"""Every allowed and every forbidden transition of the recording state machine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from lucid_sessions.domain.errors import InvalidTransition, InvalidValue, PolicyViolation
from lucid_sessions.domain.session import VISIBLE_STATUSES, Session, SessionStatus
from lucid_sessions.domain.values import RecordingConfig, StorageConfig
from tests.factories import at, make_session

Action = Callable[[Session, datetime], None]

ACTIONS: dict[str, Action] = {
    "start": lambda s, t: s.start(t),
    "pause": lambda s, t: s.pause(t),
    "resume": lambda s, t: s.resume(t),
    "stop": lambda s, t: s.stop(t),
    "begin_processing": lambda s, t: s.begin_processing(t),
    "complete": lambda s, t: s.complete(t),
    "fail": lambda s, t: s.fail(t, "boom"),
    "delete": lambda s, t: s.begin_deletion("request", "ops", t, force=False),
}

ALLOWED: dict[tuple[SessionStatus, str], SessionStatus] = {
    (SessionStatus.CREATED, "start"): SessionStatus.RECORDING,
    (SessionStatus.RECORDING, "pause"): SessionStatus.PAUSED,
    (SessionStatus.PAUSED, "resume"): SessionStatus.RECORDING,
    (SessionStatus.RECORDING, "stop"): SessionStatus.STOPPED,
    (SessionStatus.PAUSED, "stop"): SessionStatus.STOPPED,
    (SessionStatus.STOPPED, "begin_processing"): SessionStatus.PROCESSING,
    (SessionStatus.PROCESSING, "complete"): SessionStatus.COMPLETED,
    (SessionStatus.STOPPED, "fail"): SessionStatus.FAILED,
    (SessionStatus.PROCESSING, "fail"): SessionStatus.FAILED,
    (SessionStatus.CREATED, "delete"): SessionStatus.DELETING,
    (SessionStatus.STOPPED, "delete"): SessionStatus.DELETING,
    (SessionStatus.COMPLETED, "delete"): SessionStatus.DELETING,
    (SessionStatus.FAILED, "delete"): SessionStatus.DELETING,
}

# The shortest path of actions from `created` to each status.
PATHS: dict[SessionStatus, list[str]] = {
    SessionStatus.CREATED: [],
    SessionStatus.RECORDING: ["start"],
    SessionStatus.PAUSED: ["start", "pause"],
    SessionStatus.STOPPED: ["start", "stop"],
    SessionStatus.PROCESSING: ["start", "stop", "begin_processing"],
    SessionStatus.COMPLETED: ["start", "stop", "begin_processing", "complete"],
    SessionStatus.FAILED: ["start", "stop", "fail"],
    SessionStatus.DELETING: ["start", "stop", "delete"],
}


def session_in(status: SessionStatus) -> Session:
    session = make_session()
    for step, name in enumerate(PATHS[status], start=1):
        ACTIONS[name](session, at(step))
    assert session.status is status
    return session


@pytest.mark.parametrize(("status", "action"), [(s, a) for s in SessionStatus for a in ACTIONS])
def test_every_transition(status: SessionStatus, action: str) -> None:
    session = session_in(status)
    before = session.copy()
    expected = ALLOWED.get((status, action))
    if expected is None:
        with pytest.raises(InvalidTransition) as caught:
            ACTIONS[action](session, at(100))
        assert caught.value.status == status.value
        assert status.value in str(caught.value)
        assert session == before, "a refused action changes nothing"
    else:
        ACTIONS[action](session, at(100))
        assert session.status is expected
        assert session.updated_at == at(100)


def test_durations_exclude_pauses() -> None:
    session = make_session()
    session.start(at(10))
    session.pause(at(20))
    assert session.duration_seconds_at(at(25)) == 10
    assert session.paused_seconds_at(at(25)) == 5
    session.resume(at(30))
    session.pause(at(40))
    session.stop(at(50))  # stopping while paused closes the pause
    assert session.paused_seconds == 20
    assert session.duration_seconds_at(at(1000)) == 20
    assert session.stopped_at == at(50)
    assert session.started_at == at(10)


def test_duration_before_start_is_zero() -> None:
    assert make_session().duration_seconds_at(at(99)) == 0


def test_stopped_session_never_records_again() -> None:
    session = session_in(SessionStatus.STOPPED)
    for action in ("start", "resume", "pause"):
        with pytest.raises(InvalidTransition):
            ACTIONS[action](session, at(200))


def test_recording_config_changes_only_while_created() -> None:
    session = make_session()
    session.update(at(1), recording_config=RecordingConfig(frame_rate=10))
    assert session.recording_config.frame_rate == 10
    session.start(at(2))
    with pytest.raises(InvalidTransition):
        session.update(at(3), name="x", recording_config=RecordingConfig(frame_rate=5))
    assert session.name == "desk", "nothing changes when one field is refused"
    session.update(at(4), name="renamed", storage_config=StorageConfig(retention_days=7))
    assert (session.name, session.storage_config.retention_days) == ("renamed", 7)


def test_update_validates_before_changing() -> None:
    session = make_session()
    with pytest.raises(InvalidValue) as caught:
        session.update(at(1), name="   ", description="new")
    assert caught.value.field == "name"
    assert session.description is None


@pytest.mark.parametrize("status", VISIBLE_STATUSES)
def test_delete_rules(status: SessionStatus) -> None:
    session = session_in(status)
    busy = status in {SessionStatus.RECORDING, SessionStatus.PAUSED, SessionStatus.PROCESSING}
    if busy:
        with pytest.raises(InvalidTransition):
            session.ensure_deletable(force=False)
    else:
        session.ensure_deletable(force=False)
    session.ensure_deletable(force=True)


def test_a_session_being_deleted_cannot_be_deleted_again() -> None:
    session = session_in(SessionStatus.DELETING)
    for force in (False, True):
        with pytest.raises(InvalidTransition):
            session.ensure_deletable(force=force)


def test_legal_hold_blocks_delete_even_with_force() -> None:
    session = make_session(storage_config=StorageConfig(legal_hold=True))
    with pytest.raises(PolicyViolation):
        session.ensure_deletable(force=True)


@pytest.mark.parametrize("bad", ["", "a b", "x" * 65, "../etc", "sess/1", "é"])
def test_invalid_ids_are_refused(bad: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        make_session(bad)
    assert caught.value.field == "session_id"
