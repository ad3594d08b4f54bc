"""Delete a session and everything stored for it."""

from __future__ import annotations

from lucid_sessions.app.usecases.common import load_visible
from lucid_sessions.domain.ports.sessions import SessionRepository
from lucid_sessions.domain.principal import Principal

__all__ = ["DeleteSession"]


class DeleteSession:
    def __init__(self, repo: SessionRepository) -> None:
        self._repo = repo

    async def __call__(self, principal: Principal, session_id: str, *, force: bool = False) -> str:
        session = await load_visible(self._repo, principal, session_id)
        session.ensure_deletable(force=force)
        await self._repo.delete(session.session_id, expected_version=session.version)
        return session.session_id
