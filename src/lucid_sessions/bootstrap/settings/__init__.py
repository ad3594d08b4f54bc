"""Settings: each declared once (`declared.py`), loaded from defaults, an optional YAML file
and the environment (`loading.py`), checked together (`checks.py`), and rendered as the
settings table and the deployment template (`rendering.py`)."""

from lucid_sessions.bootstrap.settings.checks import SettingsError
from lucid_sessions.bootstrap.settings.declared import (
    BY_NAME,
    DECLARED,
    MIB,
    Declared,
    Setting,
    Settings,
)
from lucid_sessions.bootstrap.settings.loading import load_settings

__all__ = [
    "BY_NAME",
    "DECLARED",
    "FROM_FILE",
    "MIB",
    "SOURCES",
    "Declared",
    "Setting",
    "Settings",
    "SettingsError",
    "load_settings",
]

SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    declared.name: (declared.source.env, declared.yaml_path) for declared in DECLARED
}
"""Setting -> (environment variable, YAML path), derived from the declarations."""

FROM_FILE: tuple[str, ...] = tuple(d.name for d in DECLARED if d.source.from_file)
"""Settings that may also come from the file named by `<variable>_FILE`."""
