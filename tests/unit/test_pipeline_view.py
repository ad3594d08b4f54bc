"""The pipeline a session shows: the ingest stages while it records, finalization once it has
stopped (the contract's list; the original service's clients count four stages before)."""

from __future__ import annotations

from lucid_sessions.app.usecases.pipeline import INGEST_STAGES, STAGES, PipelineView
from tests.factories import at, make_session


def test_finalization_is_listed_only_once_the_session_has_stopped() -> None:
    session = make_session()
    assert PipelineView(session, {}, at(0)).stages == INGEST_STAGES
    session.start(at(1))
    assert PipelineView(session, {}, at(1)).stages == INGEST_STAGES
    session.pause(at(2))
    assert PipelineView(session, {}, at(2)).stages == INGEST_STAGES
    session.resume(at(3))
    session.stop(at(4))
    view = PipelineView(session, {}, at(4))
    assert view.stages == STAGES
    assert view.stages[-1] == "finalization"
    assert view.stage_status("finalization") == "active"
    session.begin_processing(at(5))
    assert PipelineView(session, {}, at(5)).stages == STAGES
    session.fail(at(6), "a blob failed authentication")
    assert PipelineView(session, {}, at(6)).stages == STAGES
