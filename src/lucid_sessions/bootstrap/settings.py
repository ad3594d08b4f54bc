"""Settings: defaults, then an optional YAML file (LUCID_CONFIG_FILE), then the environment.

Validated with msgspec; every error names the setting (its environment variable and its YAML
key) and says how to fix it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
import yaml

__all__ = ["Settings", "SettingsError", "load_settings"]

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Environment = Literal["development", "production"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
CipherChoice = Literal["auto", "aes-256-gcm", "chacha20-poly1305"]

MIB = 1024 * 1024


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    env: Environment = "development"
    host: str = "127.0.0.1"
    port: Port = 8113
    mongodb_url: str = ""
    redis_url: str = ""
    storage_path: str = "data/sessions"
    chunk_store_path: str = "data/chunks"
    cors_origins: list[str] = msgspec.field(default_factory=lambda: ["*"])
    log_level: LogLevel = "INFO"
    max_chunk_bytes: Annotated[int, msgspec.Meta(ge=1, le=1024 * MIB)] = 16 * MIB
    cipher: CipherChoice = "auto"

    @property
    def production(self) -> bool:
        return self.env == "production"

    def masked(self) -> dict[str, Any]:
        """The effective settings with every secret in URLs masked."""
        shown = msgspec.to_builtins(self)
        for key, value in shown.items():
            if isinstance(value, str):
                shown[key] = _mask_url(value)
        return dict(shown)


class SettingsError(Exception):
    """An invalid setting: the message names it and the fix."""


# setting -> (environment variable, YAML path)
SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "env": ("LUCID_ENV", ("env",)),
    "host": ("LUCID_BIND_HOST", ("network", "host")),
    "port": ("SESSION_API_PORT", ("network", "port")),
    "mongodb_url": ("MONGODB_URL", ("database", "mongodb_url")),
    "redis_url": ("REDIS_URL", ("database", "redis_url")),
    "storage_path": ("LUCID_STORAGE_PATH", ("storage", "session_storage_path")),
    "chunk_store_path": ("LUCID_CHUNK_STORE_PATH", ("storage", "chunk_storage_path")),
    "cors_origins": ("CORS_ORIGINS", ("cors", "origins")),
    "log_level": ("LOG_LEVEL", ("log_level",)),
    "max_chunk_bytes": ("LUCID_MAX_CHUNK_BYTES", ("chunks", "max_chunk_bytes")),
    "cipher": ("LUCID_CIPHER", ("crypto", "cipher")),
}

PRODUCTION_DEFAULTS = {
    "host": "0.0.0.0",  # noqa: S104 - inside the container the service listens on every interface
    "storage_path": "/app/data/sessions",
    "chunk_store_path": "/app/data/chunks",
}

_INT_SETTINGS = {"port", "max_chunk_bytes"}


def _describe(name: str) -> str:
    env_name, yaml_path = SOURCES[name]
    return f"{env_name} (YAML {'.'.join(yaml_path)})"


def _read_yaml(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle)
    except OSError as exc:
        raise SettingsError(
            f"LUCID_CONFIG_FILE: cannot read {path!r} ({exc.strerror}); fix the path or unset it"
        ) from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"LUCID_CONFIG_FILE: {path!r} is not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise SettingsError(f"LUCID_CONFIG_FILE: {path!r} must hold a mapping at the top level")
    return loaded


def _from_yaml(document: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, (_, path) in SOURCES.items():
        node: Any = document
        for key in path:
            if not isinstance(node, Mapping) or key not in node:
                break
            node = node[key]
        else:
            if node is not None and node != "":
                found[name] = node
    return found


def _coerce_env(name: str, raw: str) -> Any:
    if name == "cors_origins":
        return [part.strip() for part in raw.split(",") if part.strip()]
    if name in _INT_SETTINGS:
        try:
            return int(raw.strip())
        except ValueError:
            raise SettingsError(
                f"{_describe(name)}: expected a whole number, got {raw!r}"
            ) from None
    if name == "log_level":
        return raw.strip().upper()
    return raw.strip()


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, (env_name, _) in SOURCES.items():
        raw = environ.get(env_name)
        if raw is not None and raw.strip() != "":
            found[name] = _coerce_env(name, raw)
    return found


_PATH_IN_ERROR = re.compile(r"at `\$\.(\w+)")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build and validate the settings; raise SettingsError naming the bad setting."""
    environ = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    config_file = environ.get("LUCID_CONFIG_FILE", "").strip()
    if config_file:
        document = _read_yaml(config_file)
        merged.update(_from_yaml(document))
        if "log_level" in merged and isinstance(merged["log_level"], str):
            merged["log_level"] = merged["log_level"].upper()
        if "cors_origins" in merged and isinstance(merged["cors_origins"], str):
            merged["cors_origins"] = _coerce_env("cors_origins", merged["cors_origins"])
    merged.update(_from_env(environ))
    if merged.get("env") == "production":
        for name, value in PRODUCTION_DEFAULTS.items():
            merged.setdefault(name, value)
    try:
        settings = msgspec.convert(merged, Settings)
    except msgspec.ValidationError as exc:
        match = _PATH_IN_ERROR.search(str(exc))
        where = _describe(match.group(1)) if match and match.group(1) in SOURCES else "settings"
        message = _PATH_IN_ERROR.sub("", str(exc)).rstrip(" -")
        raise SettingsError(f"{where}: {message}") from None
    _check_consistency(settings)
    return settings


def _check_consistency(settings: Settings) -> None:
    if settings.production and not settings.mongodb_url:
        raise SettingsError(
            "MONGODB_URL (YAML database.mongodb_url): required when LUCID_ENV=production; "
            "the embedded store is for development only"
        )
    for name in ("mongodb_url", "redis_url"):
        value = getattr(settings, name)
        scheme = "mongodb" if name == "mongodb_url" else "redis"
        if value and not re.match(rf"^{scheme}(\+srv|s)?://", value):
            raise SettingsError(f"{_describe(name)}: must start with {scheme}://")
    if not settings.storage_path:
        raise SettingsError(f"{_describe('storage_path')}: must not be empty")


def _mask_url(value: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1****@", value)
