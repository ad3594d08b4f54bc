"""Use cases over in-memory fakes: assert on state, not on calls."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from lucid_sessions.adapters.memory import FrozenClock, RecordingTelemetry
from lucid_sessions.app.usecases.change_session import (
    ControlRecording,
    RecordingAction,
    SessionChanges,
    UpdateSession,
)
from lucid_sessions.app.usecases.create_session import CreateSession, NewSession
from lucid_sessions.app.usecases.delete_session import DeleteSession
from lucid_sessions.app.usecases.read_sessions import GetSession, ListSessions
from lucid_sessions.domain.errors import (
    Forbidden,
    InvalidTransition,
    InvalidValue,
    PolicyViolation,
    SessionNotFound,
)
from lucid_sessions.domain.ports.session_repository import SessionQuery, SessionRepository
from lucid_sessions.domain.principal import Principal, Role
from lucid_sessions.domain.session import SessionStatus
from lucid_sessions.domain.values import RDPConfig, SessionMetadata, StorageConfig
from tests.graph import fake_container

pytestmark = pytest.mark.anyio

ADMIN = Principal("root", Role.ADMIN)
ALICE = Principal("alice", Role.USER)
BOB = Principal("bob", Role.USER)


@dataclass
class App:
    repo: SessionRepository
    clock: FrozenClock
    create: CreateSession
    get: GetSession
    list: ListSessions
    update: UpdateSession
    control: ControlRecording
    delete: DeleteSession


@pytest.fixture
def app(tmp_path: Path) -> App:
    """The session use cases as the service's container builds them, on the fakes. Its
    ControlRecording also schedules finalization on STOP; nothing runs the scheduler here, so
    a stopped session stays STOPPED."""
    clock = FrozenClock()
    container = fake_container(
        tmp_path, clock=clock, telemetry=RecordingTelemetry(), owner="this-process"
    )
    return App(
        container.session_repository(),
        clock,
        container.create_session(),
        container.get_session(),
        container.list_sessions(),
        container.update_session(),
        container.control_recording(),
        container.delete_session(),
    )


def new(name: str = "desk", **kwargs: object) -> NewSession:
    return NewSession(name=name, rdp_config=RDPConfig(host="10.0.0.9"), **kwargs)  # type: ignore[arg-type]


async def test_create_then_get(app: App) -> None:
    created = await app.create(ADMIN, new(description="first"))
    assert created.session.status is SessionStatus.CREATED
    assert created.session.version == 1
    fetched = await app.get(ADMIN, created.session.session_id)
    assert fetched.session == created.session


async def test_full_recording_cycle_accounts_time(app: App) -> None:
    sid = (await app.create(ADMIN, new())).session.session_id
    await app.control(ADMIN, sid, RecordingAction.START)
    app.clock.advance(60)
    await app.control(ADMIN, sid, RecordingAction.PAUSE)
    app.clock.advance(30)
    await app.control(ADMIN, sid, RecordingAction.RESUME)
    app.clock.advance(15)
    view = await app.control(ADMIN, sid, RecordingAction.STOP)
    assert view.session.status is SessionStatus.STOPPED
    assert view.session.duration_seconds_at(view.as_of) == 75
    assert view.session.paused_seconds == 30


async def test_forbidden_action_names_status_and_changes_nothing(app: App) -> None:
    sid = (await app.create(ADMIN, new())).session.session_id
    before = (await app.get(ADMIN, sid)).session
    with pytest.raises(InvalidTransition, match="created"):
        await app.control(ADMIN, sid, RecordingAction.PAUSE)
    assert (await app.get(ADMIN, sid)).session == before


async def test_ten_concurrent_starts_exactly_one_wins(app: App) -> None:
    sid = (await app.create(ADMIN, new())).session.session_id
    outcomes: list[str] = []

    async def start() -> None:
        try:
            await app.control(ADMIN, sid, RecordingAction.START)
            outcomes.append("ok")
        except InvalidTransition:
            outcomes.append("conflict")

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(start)
    assert sorted(outcomes) == ["conflict"] * 9 + ["ok"]
    session = (await app.get(ADMIN, sid)).session
    assert session.status is SessionStatus.RECORDING
    assert session.version == 2


async def test_concurrent_update_and_action_both_apply(app: App) -> None:
    sid = (await app.create(ADMIN, new())).session.session_id
    async with anyio.create_task_group() as tg:
        tg.start_soon(app.control, ADMIN, sid, RecordingAction.START)
        tg.start_soon(app.update, ADMIN, sid, SessionChanges(name="renamed"))
    session = (await app.get(ADMIN, sid)).session
    assert (session.status, session.name) == (SessionStatus.RECORDING, "renamed")


async def test_list_filters_paginates_newest_first(app: App) -> None:
    ids = []
    for i in range(5):
        meta = SessionMetadata(project="p" if i % 2 else "q", tags=(f"t{i}", "all"))
        ids.append((await app.create(ADMIN, new(f"s{i}", metadata=meta))).session.session_id)
        app.clock.advance(1)
    page = await app.list(ADMIN, SessionQuery(limit=2, offset=1))
    assert [v.session.session_id for v in page.items] == [ids[3], ids[2]]
    assert (page.total, page.has_next, page.has_previous) == (5, True, True)
    only_p = await app.list(ADMIN, SessionQuery(project="p"))
    assert [v.session.session_id for v in only_p.items] == [ids[3], ids[1]]
    assert (await app.list(ADMIN, SessionQuery(tag="t2"))).total == 1


async def test_list_rejects_bad_limits(app: App) -> None:
    with pytest.raises(InvalidValue, match="limit"):
        await app.list(ADMIN, SessionQuery(limit=0))
    with pytest.raises(InvalidValue, match="limit"):
        await app.list(ADMIN, SessionQuery(limit=1001))
    with pytest.raises(InvalidValue, match="offset"):
        await app.list(ADMIN, SessionQuery(offset=-1))


async def test_users_see_only_their_own_sessions(app: App) -> None:
    mine = (await app.create(ALICE, new())).session
    assert mine.metadata.owner == "alice", "a user's session is owned by that user"
    theirs = (await app.create(BOB, new())).session
    with pytest.raises(SessionNotFound):
        await app.get(ALICE, theirs.session_id)
    with pytest.raises(SessionNotFound):
        await app.control(ALICE, theirs.session_id, RecordingAction.START)
    listed = await app.list(ALICE, SessionQuery())
    assert [v.session.session_id for v in listed.items] == [mine.session_id]
    assert (await app.list(ALICE, SessionQuery(owner="bob"))).total == 0
    assert (await app.list(ADMIN, SessionQuery())).total == 2
    for owner in (None, "bob"):
        with pytest.raises(Forbidden, match="owner"):
            await app.update(ALICE, mine.session_id, SessionChanges(metadata={"owner": owner}))
    with pytest.raises(SessionNotFound):  # another owner's session: still not found
        await app.update(ALICE, theirs.session_id, SessionChanges(metadata={"owner": "alice"}))
    assert (await app.get(ALICE, mine.session_id)).session.metadata.owner == "alice"
    assert (await app.get(BOB, theirs.session_id)).session.metadata.owner == "bob"


async def test_delete_rules(app: App) -> None:
    sid = (await app.create(ADMIN, new())).session.session_id
    await app.control(ADMIN, sid, RecordingAction.START)
    with pytest.raises(InvalidTransition):
        await app.delete(ADMIN, sid)
    assert await app.delete(ADMIN, sid, force=True) == sid
    with pytest.raises(SessionNotFound):
        await app.get(ADMIN, sid)
    held = (await app.create(ADMIN, new(storage_config=StorageConfig(legal_hold=True)))).session
    with pytest.raises(PolicyViolation):
        await app.delete(ADMIN, held.session_id, force=True)
    assert (await app.get(ADMIN, held.session_id)).session.session_id == held.session_id


async def test_unknown_and_malformed_ids(app: App) -> None:
    with pytest.raises(SessionNotFound):
        await app.get(ADMIN, "sess-nope")
    with pytest.raises(InvalidValue, match="session_id"):
        await app.get(ADMIN, "bad id!")


async def test_metadata_and_storage_config_are_merged_not_replaced(app: App) -> None:
    meta = SessionMetadata(project="p", environment="prod", tags=("a",), owner="alice")
    sid = (await app.create(ADMIN, new(metadata=meta))).session.session_id
    changed = await app.update(ADMIN, sid, SessionChanges(metadata={"tags": ("x", "y")}))
    assert changed.session.metadata == SessionMetadata(
        project="p", environment="prod", tags=("x", "y"), owner="alice"
    )
    removed = await app.update(ADMIN, sid, SessionChanges(metadata={"project": None}))
    assert removed.session.metadata.project is None
    assert removed.session.metadata.environment == "prod"
    held = await app.update(ADMIN, sid, SessionChanges(storage_config={"legal_hold": True}))
    kept = await app.update(ADMIN, sid, SessionChanges(storage_config={"retention_days": 7}))
    assert held.session.storage_config.legal_hold is True
    assert kept.session.storage_config == StorageConfig(retention_days=7, legal_hold=True)
    reset = await app.update(ADMIN, sid, SessionChanges(storage_config={"retention_days": None}))
    assert reset.session.storage_config.retention_days == 30
    with pytest.raises(InvalidValue, match=r"metadata\.colour"):
        await app.update(ADMIN, sid, SessionChanges(metadata={"colour": "red"}))
    with pytest.raises(InvalidValue, match="tags"):
        await app.update(ADMIN, sid, SessionChanges(metadata={"tags": ("t",) * 11}))
    assert (await app.get(ADMIN, sid)).session.storage_config.retention_days == 30
