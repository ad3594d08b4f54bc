"""Small builders the composition root uses to turn settings into adapter arguments."""

from __future__ import annotations

from lucid_sessions.adapters.crypto.keyring import KeySources
from lucid_sessions.bootstrap.settings import Settings

__all__ = ["key_sources"]


def key_sources(settings: Settings) -> KeySources:
    """Where the master and signing keys come from, as the settings say."""
    return KeySources(
        master_key=settings.master_key,
        master_key_file=settings.master_key_file,
        signing_key_file=settings.signing_key_file,
    )
