"""The one base of every configuration error an adapter or the settings can raise."""

from __future__ import annotations

__all__ = ["ConfigurationError"]


class ConfigurationError(Exception):
    """A setting, key, token or credential the service cannot start with; the message names
    the setting at fault and the fix. Start-up stops with it (one line, exit status 2)."""
