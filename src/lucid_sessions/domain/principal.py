"""Who is asking: every use case receives a principal and scopes what it may see."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lucid_sessions.domain.errors import Forbidden

__all__ = ["SYSTEM", "Principal", "Role"]


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def owner_scope(self) -> str | None:
        """The owner a query must be limited to, or None for every session."""
        return None if self.is_admin else self.id

    def may_see(self, owner: str | None) -> bool:
        return self.is_admin or owner == self.id

    def require_admin(self, action: str) -> None:
        """Forbidden unless this principal is an admin; `action` completes "only an admin may"."""
        if not self.is_admin:
            raise Forbidden(f"only an admin may {action}")


SYSTEM = Principal(id="system", role=Role.ADMIN)
"""The service itself: background jobs and the operator's command line."""
