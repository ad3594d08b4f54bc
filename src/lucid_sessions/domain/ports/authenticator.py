"""Port: who a bearer credential stands for."""

from __future__ import annotations

import abc
from typing import Protocol

from lucid_sessions.domain.principal import Principal

__all__ = ["Authenticator"]


class Authenticator(Protocol):
    """One way of recognising callers: configured tokens, or the platform's signed tokens.

    `authenticate` answers the principal a credential stands for, or None when this
    authenticator does not recognise it (unknown, expired, badly signed, malformed). It never
    raises for a bad credential, takes time independent of how close a guess came, and does
    no network I/O (it runs on every request).
    """

    @abc.abstractmethod
    def authenticate(self, credential: str) -> Principal | None: ...
