"""Settings: defaults, then an optional YAML file (LUCID_CONFIG_FILE), then the environment.

Validated with msgspec; every error names the setting (its environment variable and its YAML
key) and says how to fix it. Secrets are masked wherever settings are shown.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
import yaml

__all__ = ["FROM_FILE", "SOURCES", "Settings", "SettingsError", "load_settings"]

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Environment = Literal["development", "production"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
CipherChoice = Literal["auto", "aes-256-gcm", "chacha20-poly1305"]
JwtAlgorithm = Literal["HS256", "HS384", "HS512", "RS256", "EdDSA"]
BlobStoreKind = Literal["fs", "s3"]
S3Addressing = Literal["path", "virtual"]

MIB = 1024 * 1024
SYMMETRIC_JWT = ("HS256", "HS384", "HS512")


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    env: Environment = "development"
    host: str = "127.0.0.1"
    port: Port = 8113
    mongodb_url: str = ""
    redis_url: str = ""
    storage_path: str = "data/sessions"
    chunk_store_path: str = "data/chunks"
    # -- chunk blobs: the filesystem (under chunk_store_path) or an S3 bucket ----------------
    blob_store: BlobStoreKind = "fs"
    s3_endpoint: str = ""
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_prefix: str = ""
    s3_addressing: S3Addressing = "virtual"
    s3_credentials_file: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    cors_origins: list[str] = msgspec.field(default_factory=list)
    log_level: LogLevel = "INFO"
    max_chunk_bytes: Annotated[int, msgspec.Meta(ge=1, le=1024 * MIB)] = 16 * MIB
    max_json_bytes: Annotated[int, msgspec.Meta(ge=1024, le=16 * MIB)] = 256 * 1024
    upload_idle_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0
    max_header_bytes: Annotated[int, msgspec.Meta(ge=1024, le=MIB)] = 32 * 1024
    header_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0
    body_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0
    chunk_store_min_free_mb: Annotated[int, msgspec.Meta(ge=0)] = 64
    cipher: CipherChoice = "auto"
    retention_interval_seconds: Annotated[float, msgspec.Meta(gt=0)] = 3600.0
    blockchain_engine_url: str = ""
    anchor_interval_seconds: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    shutdown_grace_seconds: Annotated[int, msgspec.Meta(ge=0, le=600)] = 10
    lease_seconds: Annotated[float, msgspec.Meta(ge=1, le=600)] = 30.0
    # -- authentication ----------------------------------------------------------------------
    api_tokens: str = ""
    api_tokens_file: str = ""
    jwt_secret_key: str = ""
    jwt_public_key_file: str = ""
    jwt_algorithm: JwtAlgorithm = "HS256"
    jwt_issuer: str = ""
    jwt_admin_roles: list[str] = msgspec.field(default_factory=lambda: ["admin", "super_admin"])
    metrics_public: bool = False

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def jwt_enabled(self) -> bool:
        return bool(self.jwt_secret_key or self.jwt_public_key_file)

    @property
    def authentication_configured(self) -> bool:
        return bool(self.api_tokens or self.api_tokens_file or self.jwt_enabled)

    def authentication(self) -> str:
        """One line saying how requests are authenticated (start-up log, check-config)."""
        if not self.authentication_configured:
            return (
                "OPEN: no tokens configured; every request runs as an administrator "
                "(development only; production refuses to start like this)"
            )
        ways = []
        if self.api_tokens:
            ways.append("tokens from LUCID_API_TOKENS")
        if self.api_tokens_file:
            ways.append("tokens from LUCID_API_TOKENS_FILE")
        if self.jwt_enabled:
            ways.append(f"platform JWTs ({self.jwt_algorithm})")
        return "bearer " + ", ".join(ways)

    def masked(self) -> dict[str, Any]:
        """The effective settings with every secret masked."""
        shown: dict[str, Any] = msgspec.to_builtins(self)
        for key, value in shown.items():
            if key in SECRETS and value:
                shown[key] = "****"
            elif isinstance(value, str):
                shown[key] = _mask_url(value)
        shown["authentication"] = self.authentication()
        return shown


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
    "blob_store": ("LUCID_BLOB_STORE", ("storage", "blob_store")),
    "s3_endpoint": ("LUCID_S3_ENDPOINT", ("s3", "endpoint")),
    "s3_bucket": ("LUCID_S3_BUCKET", ("s3", "bucket")),
    "s3_region": ("LUCID_S3_REGION", ("s3", "region")),
    "s3_prefix": ("LUCID_S3_PREFIX", ("s3", "prefix")),
    "s3_addressing": ("LUCID_S3_ADDRESSING", ("s3", "addressing")),
    "s3_credentials_file": ("LUCID_S3_CREDENTIALS_FILE", ("s3", "credentials_file")),
    "s3_access_key_id": ("LUCID_S3_ACCESS_KEY_ID", ("s3", "access_key_id")),
    "s3_secret_access_key": ("LUCID_S3_SECRET_ACCESS_KEY", ("s3", "secret_access_key")),
    "cors_origins": ("CORS_ORIGINS", ("cors", "origins")),
    "log_level": ("LOG_LEVEL", ("log_level",)),
    "max_chunk_bytes": ("LUCID_MAX_CHUNK_BYTES", ("chunks", "max_chunk_bytes")),
    "max_json_bytes": ("LUCID_MAX_JSON_BYTES", ("http", "max_json_bytes")),
    "upload_idle_timeout_seconds": (
        "LUCID_UPLOAD_IDLE_TIMEOUT_SECONDS",
        ("chunks", "upload_idle_timeout_seconds"),
    ),
    "max_header_bytes": ("LUCID_MAX_HEADER_BYTES", ("http", "max_header_bytes")),
    "header_timeout_seconds": ("LUCID_HEADER_TIMEOUT_SECONDS", ("http", "header_timeout_seconds")),
    "body_timeout_seconds": ("LUCID_BODY_TIMEOUT_SECONDS", ("http", "body_timeout_seconds")),
    "chunk_store_min_free_mb": ("LUCID_CHUNK_STORE_MIN_FREE_MB", ("chunks", "min_free_mb")),
    "cipher": ("LUCID_CIPHER", ("crypto", "cipher")),
    "retention_interval_seconds": (
        "LUCID_RETENTION_INTERVAL_SECONDS",
        ("retention", "interval_seconds"),
    ),
    "blockchain_engine_url": ("BLOCKCHAIN_ENGINE_URL", ("integrations", "blockchain_engine_url")),
    "anchor_interval_seconds": ("LUCID_ANCHOR_INTERVAL_SECONDS", ("anchoring", "interval_seconds")),
    "shutdown_grace_seconds": (
        "LUCID_SHUTDOWN_GRACE_SECONDS",
        ("network", "shutdown_grace_seconds"),
    ),
    "lease_seconds": ("LUCID_LEASE_SECONDS", ("replicas", "lease_seconds")),
    "api_tokens": ("LUCID_API_TOKENS", ("auth", "api_tokens")),
    "api_tokens_file": ("LUCID_API_TOKENS_FILE", ("auth", "api_tokens_file")),
    "jwt_secret_key": ("JWT_SECRET_KEY", ("auth", "jwt", "secret_key")),
    "jwt_public_key_file": ("LUCID_JWT_PUBLIC_KEY_FILE", ("auth", "jwt", "public_key_file")),
    "jwt_algorithm": ("JWT_ALGORITHM", ("auth", "jwt", "algorithm")),
    "jwt_issuer": ("LUCID_JWT_ISSUER", ("auth", "jwt", "issuer")),
    "jwt_admin_roles": ("LUCID_JWT_ADMIN_ROLES", ("auth", "jwt", "admin_roles")),
    "metrics_public": ("LUCID_METRICS_PUBLIC", ("metrics", "public")),
}

SECRETS = frozenset({"api_tokens", "jwt_secret_key", "s3_secret_access_key"})

# Settings whose value may carry a secret can also be read from a file named by the variable
# with `_FILE` appended (MONGODB_URL_FILE=/run/secrets/mongodb_url), as container secrets are
# mounted. The file's content, stripped of surrounding white space, is the value.
FROM_FILE = ("mongodb_url", "redis_url", "jwt_secret_key", "blockchain_engine_url")

PRODUCTION_DEFAULTS = {
    "host": "0.0.0.0",  # noqa: S104 - inside the container the service listens on every interface
    "storage_path": "/app/data/sessions",
    "chunk_store_path": "/app/data/chunks",
}

_INT_SETTINGS = {
    "port",
    "max_chunk_bytes",
    "max_json_bytes",
    "max_header_bytes",
    "chunk_store_min_free_mb",
    "shutdown_grace_seconds",
}
_FLOAT_SETTINGS = {
    "lease_seconds",
    "upload_idle_timeout_seconds",
    "header_timeout_seconds",
    "body_timeout_seconds",
    "retention_interval_seconds",
    "anchor_interval_seconds",
}
_BOOL_SETTINGS = {"metrics_public"}
_LIST_SETTINGS = {"cors_origins", "jwt_admin_roles"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


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


def _coerce(name: str, raw: Any) -> Any:
    """A value from the environment (always text) or YAML (text for lists written inline)
    as the setting's type; msgspec then checks ranges and choices."""
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if name in _LIST_SETTINGS:
        return [part.strip() for part in text.split(",") if part.strip()]
    if name in _INT_SETTINGS:
        try:
            return int(text)
        except ValueError:
            raise SettingsError(
                f"{_describe(name)}: expected a whole number, got {raw!r}"
            ) from None
    if name in _FLOAT_SETTINGS:
        try:
            return float(text)
        except ValueError:
            raise SettingsError(f"{_describe(name)}: expected a number, got {raw!r}") from None
    if name in _BOOL_SETTINGS:
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise SettingsError(f"{_describe(name)}: expected true or false, got {raw!r}")
    if name == "log_level":
        return text.upper()
    return text


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, (env_name, _) in SOURCES.items():
        raw = environ.get(env_name)
        if raw is not None and raw.strip() != "":
            found[name] = raw
    for name in FROM_FILE:
        env_name = SOURCES[name][0]
        path = environ.get(f"{env_name}_FILE", "").strip()
        if not path:
            continue
        if name in found:
            raise SettingsError(f"{env_name} and {env_name}_FILE: set one of them, not both")
        found[name] = _read_secret_file(f"{env_name}_FILE", path)
    return found


def _read_secret_file(variable: str, path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            value = handle.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise SettingsError(f"{variable}: cannot read {path!r} ({reason})") from None
    if not value:
        raise SettingsError(f"{variable}: {path!r} is empty")
    return value


_PATH_IN_ERROR = re.compile(r"at `\$\.(\w+)")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build and validate the settings; raise SettingsError naming the bad setting."""
    environ = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    config_file = environ.get("LUCID_CONFIG_FILE", "").strip()
    if config_file:
        merged.update(_from_yaml(_read_yaml(config_file)))
    merged.update(_from_env(environ))
    merged = {name: _coerce(name, value) for name, value in merged.items()}
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
    if settings.production and not settings.authentication_configured:
        raise SettingsError(
            "LUCID_API_TOKENS / LUCID_API_TOKENS_FILE / JWT_SECRET_KEY / "
            "LUCID_JWT_PUBLIC_KEY_FILE: production needs at least one way to authenticate "
            "requests; without one every request would run as an administrator"
        )
    for name in ("mongodb_url", "redis_url"):
        value = getattr(settings, name)
        scheme = "mongodb" if name == "mongodb_url" else "redis"
        if value and not re.match(rf"^{scheme}(\+srv|s)?://", value):
            raise SettingsError(f"{_describe(name)}: must start with {scheme}://")
    _check_s3(settings)
    engine = settings.blockchain_engine_url
    if engine and not re.match(r"^https?://[^/\s]+", engine):
        raise SettingsError(f"{_describe('blockchain_engine_url')}: must be an http(s) URL")
    if not settings.storage_path:
        raise SettingsError(f"{_describe('storage_path')}: must not be empty")
    _check_jwt(settings)
    if "*" in settings.cors_origins and len(settings.cors_origins) > 1:
        raise SettingsError(f"{_describe('cors_origins')}: '*' stands alone or not at all")


def _check_s3(settings: Settings) -> None:
    if settings.blob_store != "s3":
        return
    if not settings.s3_bucket:
        raise SettingsError(f"{_describe('s3_bucket')}: required when LUCID_BLOB_STORE=s3")
    endpoint = settings.s3_endpoint
    if endpoint and not re.fullmatch(r"https?://[^/\s]+/?", endpoint):
        raise SettingsError(
            f"{_describe('s3_endpoint')}: must be an http(s) URL with no path "
            "(empty: AWS), for example http://rgw.example:7480"
        )
    if bool(settings.s3_access_key_id) != bool(settings.s3_secret_access_key):
        raise SettingsError(
            f"{_describe('s3_access_key_id')} and {_describe('s3_secret_access_key')}: "
            "set both or neither"
        )
    if settings.s3_credentials_file and settings.s3_access_key_id:
        raise SettingsError(
            f"{_describe('s3_credentials_file')} and {_describe('s3_access_key_id')}: "
            "set one of them, not both"
        )


def _check_jwt(settings: Settings) -> None:
    """The algorithm comes from settings, and the key must be of its kind (no confusion of a
    public key with an HMAC secret)."""
    symmetric = settings.jwt_algorithm in SYMMETRIC_JWT
    if settings.jwt_secret_key and settings.jwt_public_key_file:
        raise SettingsError(
            f"{_describe('jwt_secret_key')} and {_describe('jwt_public_key_file')}: "
            "set one of them, not both"
        )
    if settings.jwt_secret_key and not symmetric:
        raise SettingsError(
            f"{_describe('jwt_algorithm')}: {settings.jwt_algorithm} needs "
            f"{_describe('jwt_public_key_file')}; JWT_SECRET_KEY is for HS256/HS384/HS512"
        )
    if settings.jwt_public_key_file and symmetric:
        raise SettingsError(
            f"{_describe('jwt_algorithm')}: a public key file needs RS256 or EdDSA, "
            f"not {settings.jwt_algorithm}"
        )
    if settings.jwt_secret_key and len(settings.jwt_secret_key) < 32:
        raise SettingsError(f"{_describe('jwt_secret_key')}: must be at least 32 characters")


def _mask_url(value: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1****@", value)
