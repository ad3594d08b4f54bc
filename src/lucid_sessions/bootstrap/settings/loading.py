"""Loading the settings: defaults, then an optional YAML file (LUCID_CONFIG_FILE), then the
environment, each value read as its declared type (`declared.py`); then validated with
msgspec and checked for consistency (`checks.py`). Every error names the setting (its
environment variable and its YAML key) and says how to fix it.
"""

from __future__ import annotations

import os
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import yaml

from lucid_sessions.adapters.crypto.secret_files import LooseSecretFile, read_secret_file
from lucid_sessions.bootstrap.settings.checks import SettingsError, check_consistency
from lucid_sessions.bootstrap.settings.declared import BY_NAME, DECLARED, Declared, Settings

__all__ = ["load_settings"]

_CONFIG_FILE = BY_NAME["config_file"].source.env
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
_PATH_IN_ERROR = re.compile(r"at `\$\.(\w+)")


def _read_yaml(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle)
    except OSError as exc:
        raise SettingsError(
            f"{_CONFIG_FILE}: cannot read {path!r} ({exc.strerror}); fix the path or unset it"
        ) from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"{_CONFIG_FILE}: {path!r} is not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise SettingsError(f"{_CONFIG_FILE}: {path!r} must hold a mapping at the top level")
    return loaded


def _from_yaml(document: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for declared in DECLARED:
        if not declared.yaml_path:
            continue
        node: Any = document
        for key in declared.yaml_path:
            if not isinstance(node, Mapping) or key not in node:
                break
            node = node[key]
        else:
            if node is not None and node != "":
                found[declared.name] = node
    return found


def _coerce(declared: Declared, raw: Any) -> Any:
    """A value from the environment (always text) or YAML (text for lists written inline)
    as the setting's declared type; msgspec then checks ranges and choices."""
    if not isinstance(raw, str):
        return raw
    text, kind = raw.strip(), declared.kind
    if typing.get_origin(kind) is list:
        return [part.strip() for part in text.split(",") if part.strip()]
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise SettingsError(
                f"{declared.describe()}: expected a whole number, got {raw!r}"
            ) from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise SettingsError(f"{declared.describe()}: expected a number, got {raw!r}") from None
    if kind is bool:
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise SettingsError(f"{declared.describe()}: expected true or false, got {raw!r}")
    if declared.name == "log_level":
        return text.upper()
    return text


def _from_env(environ: Mapping[str, str], production: bool) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for declared in DECLARED:
        raw = environ.get(declared.source.env)
        if raw is not None and raw.strip() != "":
            found[declared.name] = raw
    for declared in DECLARED:
        if not declared.source.from_file:
            continue
        variable = f"{declared.source.env}_FILE"
        path = environ.get(variable, "").strip()
        if not path:
            continue
        if declared.name in found:
            raise SettingsError(f"{declared.source.env} and {variable}: set one of them, not both")
        found[declared.name] = _read_secret(variable, path, production)
    return found


def _read_secret(variable: str, path: str, production: bool) -> str:
    """A `*_FILE` secret, read like the key files: private in production."""
    try:
        value = read_secret_file(Path(path), variable, production=production).decode("utf-8")
    except LooseSecretFile as exc:
        raise SettingsError(str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise SettingsError(f"{variable}: cannot read {path!r} ({reason})") from None
    value = value.strip()
    if not value:
        raise SettingsError(f"{variable}: {path!r} is empty")
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build and validate the settings; raise SettingsError naming the bad setting."""
    environ = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    config_file = environ.get(_CONFIG_FILE, "").strip()
    if config_file:
        merged.update(_from_yaml(_read_yaml(config_file)))
    env_name = environ.get(BY_NAME["env"].source.env, "").strip()
    production = (env_name or merged.get("env")) == "production"
    merged.update(_from_env(environ, production))
    merged = {name: _coerce(BY_NAME[name], value) for name, value in merged.items()}
    if merged.get("env") == "production":
        for declared in DECLARED:
            if declared.source.production is not None:
                merged.setdefault(declared.name, declared.source.production)
    try:
        settings = msgspec.convert(merged, Settings)
    except msgspec.ValidationError as exc:
        match = _PATH_IN_ERROR.search(str(exc))
        known = match is not None and match.group(1) in BY_NAME
        where = BY_NAME[match.group(1)].describe() if match and known else "settings"
        message = _PATH_IN_ERROR.sub("", str(exc)).rstrip(" -")
        raise SettingsError(f"{where}: {message}") from None
    check_consistency(settings)
    return settings
