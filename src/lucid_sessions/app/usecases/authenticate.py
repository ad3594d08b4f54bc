"""Authenticate a request: its bearer credential becomes the principal every use case takes."""

from __future__ import annotations

from collections.abc import Sequence

from lucid_sessions.domain.errors import Unauthenticated
from lucid_sessions.domain.ports.authenticator import Authenticator
from lucid_sessions.domain.principal import Principal, Role

__all__ = ["OPEN_PRINCIPAL", "Authenticate"]

OPEN_PRINCIPAL = Principal(id="development", role=Role.ADMIN)
"""Who every request is when no authenticator is configured (development only)."""

MAX_CREDENTIAL = 8192


class Authenticate:
    """Tries each configured authenticator in turn. With none configured the service is open:
    every request is `OPEN_PRINCIPAL` (the settings refuse that in production)."""

    def __init__(self, authenticators: Sequence[Authenticator]) -> None:
        self._authenticators = tuple(authenticators)

    @property
    def open(self) -> bool:
        return not self._authenticators

    def __call__(self, credential: str | None) -> Principal:
        if self.open:
            return OPEN_PRINCIPAL
        if not credential:
            raise Unauthenticated("authentication required: send Authorization: Bearer <token>")
        if len(credential) <= MAX_CREDENTIAL:
            for authenticator in self._authenticators:
                principal = authenticator.authenticate(credential)
                if principal is not None:
                    return principal
        raise Unauthenticated("the bearer token is not valid (unknown, expired or revoked)")
