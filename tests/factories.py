"""Builders of domain objects for tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from lucid_sessions.domain.session import Session
from lucid_sessions.domain.values import RDPConfig, SessionMetadata

T0 = datetime.fromisoformat("2026-01-01T00:00:00+00:00")


def make_session(
    session_id: str = "sess-1",
    *,
    created_at: datetime | None = None,
    metadata: SessionMetadata | None = None,
    **kwargs: Any,
) -> Session:
    return Session.create(
        session_id=session_id,
        name=kwargs.pop("name", "desk"),
        rdp_config=kwargs.pop("rdp_config", RDPConfig(host="10.0.0.5")),
        now=created_at or T0,
        metadata=metadata,
        **kwargs,
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)
